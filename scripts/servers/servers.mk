# Real OpenAI-compatible servers for recording cassettes (see scripts/servers/README.md). Included by the Makefile.
#   make server PROVIDER=llamacpp-tools     start one (installs it first if needed); prints BASE_URL=... MODEL=...
#   make server-stop [PROVIDER=...]         stop one (default: all that are running)
#   make servers-install [PROVIDER="..."]   install without starting (default: llamacpp litellm)
#   make server-facts PROVIDER=...          JSON facts for a cassette manifest
# Providers: llamacpp llamacpp-tools llamacpp-think litellm llamacpp-python vllm transformers tgwui
# tgwui-transformers (the tgwui ones need TGWUI_SRC=/path/to/a text-generation-webui checkout; see scripts/servers/README.md)

SERVERS_MK_DIR := $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))

.PHONY: server server-stop servers-install server-facts

server:
	@bash $(SERVERS_MK_DIR)/start.sh $(or $(PROVIDER),llamacpp-tools)

server-stop:
	@bash $(SERVERS_MK_DIR)/stop.sh $(or $(PROVIDER),all)

servers-install:
	@bash $(SERVERS_MK_DIR)/install.sh $(or $(PROVIDER),llamacpp litellm)

server-facts:
	@bash $(SERVERS_MK_DIR)/facts.sh $(or $(PROVIDER),llamacpp-tools)

# make record-server PROVIDER=x   start x, record its column into cassettes/, stop it
# make record-all                 every provider in RECORD_PROVIDERS, one after another
RECORD_PROVIDERS ?= llamacpp-tools llamacpp llamacpp-think litellm llamacpp-python vllm transformers tgwui tgwui-transformers
.PHONY: record-server record-all
record-server:
	@bash $(SERVERS_MK_DIR)/record.sh $(or $(PROVIDER),llamacpp-tools)

record-all:
	@for p in $(RECORD_PROVIDERS); do bash $(SERVERS_MK_DIR)/record.sh $$p || exit $$?; done
