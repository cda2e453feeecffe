# Real OpenAI-compatible servers for recording cassettes (see .ci/servers/README.md). Included by the Makefile.
#   make server PROVIDER=llamacpp-tools     start one (installs it first if needed); prints BASE_URL=... MODEL=...
#   make server-stop [PROVIDER=...]         stop one (default: all that are running)
#   make servers-install [PROVIDER="..."]   install without starting (default: llamacpp litellm)
#   make server-facts PROVIDER=...          JSON facts for a cassette manifest
# Providers: llamacpp llamacpp-tools litellm llamacpp-python vllm transformers

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
