# Builds ngx_http_signaller_module.so against Debian's nginx (nginx-dev),
# runs it with conf.example, and runs the tests.

NGINX     ?= /usr/sbin/nginx
NGINX_SRC ?= /usr/share/nginx/src
BUILD     := build
OBJS      := $(BUILD)/nginx/objs
MODULE    := $(BUILD)/ngx_http_signaller_module.so
CC_OPT    := -g -O2 -fstack-protector-strong -Wformat \
             -Werror=format-security -fPIC -Wdate-time -D_FORTIFY_SOURCE=2 \
             -Werror $(EXTRA_CC_OPT)
LD_OPT    := -Wl,-z,relro -Wl,-z,now -fPIC $(EXTRA_LD_OPT)
SOURCES   := config ngx_http_signaller_module.c $(wildcard src/*.[ch])

# the Debian package (debian/): see .ci/deb.sh
DEB_NAME  := libnginx-mod-http-signaller
DEB_VER   := $(shell sed -n '1s/^[^(]*(\([^)]*\)).*/\1/p' debian/changelog)
DEB_ARCH  := $(shell dpkg --print-architecture 2>/dev/null)
DEB       := $(BUILD)/$(DEB_NAME)_$(DEB_VER)_$(DEB_ARCH).deb
DEB_FILES := $(SOURCES) signaller.js signaller.mjs signaller.d.ts README.md \
             $(wildcard conf.example*) LICENSE package.json .ci/deb.sh \
             $(wildcard debian/* debian/*/*)

.PHONY: all deps run test deb fuzz-quick fuzz sanitize valgrind \
        valgrind-quick bench bench-quick clean

all: $(MODULE)

deps:
	@sh .ci/deps.sh build

$(OBJS)/Makefile: config
	@test -d $(NGINX_SRC) || sh .ci/deps.sh build
	rm -rf $(BUILD)/nginx
	mkdir -p $(BUILD)
	cp -r $(NGINX_SRC) $(BUILD)/nginx
	cd $(BUILD)/nginx && bash -c '. ./conf_flags && ./configure \
	    "$${NGX_CONF_FLAGS[@]}" --with-cc-opt="$(CC_OPT)" \
	    --with-ld-opt="$(LD_OPT)" --add-dynamic-module=$(CURDIR)' \
	    > ../configure.log

$(MODULE): $(OBJS)/Makefile $(SOURCES)
	$(MAKE) -C $(BUILD)/nginx -f objs/Makefile modules
	# a new inode: a running nginx keeps the file it mapped
	cp $(OBJS)/ngx_http_signaller_module.so $@.tmp
	mv $@.tmp $@

run: deps $(MODULE)
	mkdir -p build/run
	$(NGINX) -p $(CURDIR)/ -c conf.example \
	    -g 'daemon off; pid build/run/nginx.pid;'

test: deps $(MODULE) $(DEB)
	@sh .ci/deps.sh test
	prove -j2 -r t/
	sh t/js/run.sh
	$(MAKE) -C fuzz fuzz-quick

# build/libnginx-mod-http-signaller_<version>_<arch>.deb, built with
# dh-sequence-nginx in a clean copy of the tree (build/deb/), lintian-clean
deb: $(DEB)

$(DEB): $(DEB_FILES)
	@sh .ci/deps.sh deb
	sh .ci/deb.sh

# tens of seconds per target; "fuzz" runs each for FUZZ_SECONDS (600)
fuzz-quick fuzz: $(MODULE)
	@sh .ci/deps.sh test
	$(MAKE) -C fuzz $@

# the t/ suite against an ASan + UBSan build of the module
sanitize: deps
	@sh .ci/deps.sh test
	sh .ci/sanitize.sh

# the t/ suite's nginx under valgrind memcheck (slow; see the README)
valgrind: $(MODULE)
	@sh .ci/deps.sh valgrind
	sh .ci/valgrind.sh

# what ASan cannot see: nginx's own code reading the module's data (the
# request kept for a log line, handed-over sockets); CI runs it
valgrind-quick: $(MODULE)
	@sh .ci/deps.sh valgrind
	sh .ci/valgrind.sh t/log.t t/relay.t t/handoff.t

bench: $(MODULE)
	$(MAKE) -C bench bench

bench-quick: $(MODULE)
	$(MAKE) -C bench quick

clean:
	rm -rf $(BUILD) build-asan build-valgrind
	$(MAKE) -C bench clean
	$(MAKE) -C fuzz clean
