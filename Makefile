# Everything a developer or CI needs. `make run` starts the platform offline; `make test` runs every check.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PY      ?= $(shell tools/find-python.sh 3.13)
SAM_PY  ?= $(shell tools/find-python.sh 3.11)
VENV    := .venv
VPY     := $(VENV)/bin/python
SAM_VENV := .sam-venv
SAM     := $(SAM_VENV)/bin/sam
CHECKOV_VENV := .checkov-venv
CHECKOV := $(CHECKOV_VENV)/bin/checkov
PORT    ?= 3000
STATE   ?= .local
export SAM_CLI_TELEMETRY := 0
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: help venv sam-venv checkov-venv run reset lint format validate build pytest test unit integration e2e fuzz openapi \
	bench clean portal portal-test browser deploy-portal

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(VENV)/.installed: requirements/dev.txt layers/core/requirements.txt
	@echo "creating $(VENV) with $(PY)"
	$(PY) -m venv $(VENV)
	$(VPY) -m pip install -q --upgrade pip 2>&1 | grep -v "is ignored" || true
	$(VPY) -m pip install -q -r requirements/dev.txt 2>&1 | grep -v "is ignored" || true
	$(VPY) -c "import aws_lambda_powertools, moto, jwt, pytest"  # fail here, not later, if an install broke
	touch $@

venv: $(VENV)/.installed ## the app's virtualenv (Python 3.13 where present), pinned requirements

$(SAM_VENV)/.installed: requirements/sam.txt
	@echo "creating $(SAM_VENV) with $(SAM_PY)"
	$(SAM_PY) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install -q -r requirements/sam.txt 2>&1 | grep -v "is ignored" || true
	$(SAM) --version
	touch $@

sam-venv: $(SAM_VENV)/.installed ## the SAM CLI in a virtualenv of its own (it pins its own boto3)

$(CHECKOV_VENV)/.installed: requirements/checkov.txt
	@echo "creating $(CHECKOV_VENV) with $(PY)"
	$(PY) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install -q -r requirements/checkov.txt 2>&1 | grep -v "is ignored" || true
	$(CHECKOV) --version
	touch $@

checkov-venv: $(CHECKOV_VENV)/.installed ## checkov in a virtualenv of its own (it pins many packages of its own)

run: venv ## start the whole platform offline on 127.0.0.1:3000 (make run PORT=... STATE=...; state in .local/)
	@if command -v npm >/dev/null 2>&1; then $(MAKE) --no-print-directory portal; \
	else echo "npm not found: the admin portal at /admin/ is not built (it needs Node.js 20+)"; fi
	$(VPY) -m offline run --port $(PORT) --state-dir $(STATE)

reset: ## wipe the offline state (tables, files, credentials, logs)
	rm -rf $(STATE)
	@echo "removed $(STATE)"

lint: venv ## ruff (lint + format check) and mypy
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy layers/core/genai_core offline tools functions

format: venv ## apply ruff's fixes and formatting
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

# checkov must report no failure: a finding is fixed, or skipped on its resource in template.yaml with the reason
# (Metadata: checkov: skip: [{id, comment}]). --skip-download: no calls to Prisma Cloud, same result offline.
validate: venv sam-venv checkov-venv ## sam validate --lint, the state machine checks and checkov
	$(SAM) validate --lint
	$(VPY) -m tools.check_asl template.yaml
	$(CHECKOV) --file template.yaml --framework cloudformation --skip-download --compact --quiet

build: sam-venv portal ## sam build (the Lambda runtime's Python on PATH) and the admin portal
	PATH="$(dir $(PY)):$$PATH" $(SAM) build --cached

# The admin portal (admin-ui/): npm ci from the committed lockfile, then the Vite build into admin-ui/dist, which
# the offline runtime serves at /admin/ and make deploy-portal uploads. Needs Node.js 20+ and npm.
admin-ui/node_modules/.installed: admin-ui/package.json admin-ui/package-lock.json
	cd admin-ui && npm ci --no-audit --no-fund
	touch $@

PORTAL_SOURCES := $(shell find admin-ui/src admin-ui/public -type f 2>/dev/null) \
	$(wildcard admin-ui/index.html admin-ui/vite.config.* admin-ui/tsconfig*.json)

admin-ui/dist/index.html: admin-ui/node_modules/.installed $(PORTAL_SOURCES)
	cd admin-ui && npm run build
	touch $@

portal: admin-ui/dist/index.html ## build the admin portal into admin-ui/dist (Node.js 20+; only when its sources changed)

portal-test: admin-ui/node_modules/.installed ## the admin portal's unit tests (Vitest)
	cd admin-ui && npm test

browser: venv portal ## the admin portal's browser test (Debian's chromium; screenshots in test-artifacts/portal/)
	$(VPY) -m pytest tests/browser

# Uploads the portal's build to the stack's bucket and invalidates CloudFront; config.json is the stack's own
# (custom resource PortalConfig) and is never overwritten or deleted here. Hashed assets of older builds stay (a tab
# still open on one keeps working; versioning expires replaced objects). STACK defaults to samconfig's name.
STACK ?= $(shell sed -n 's/^stack_name *= *"\(.*\)"/\1/p' samconfig.toml | head -1)
deploy-portal: portal ## upload admin-ui/dist to the deployed stack (aws CLI; make deploy-portal STACK=...)
	@bucket=$$(aws cloudformation describe-stacks --stack-name $(STACK) \
	    --query "Stacks[0].Outputs[?OutputKey=='PortalBucketName'].OutputValue" --output text) && \
	dist=$$(aws cloudformation describe-stacks --stack-name $(STACK) \
	    --query "Stacks[0].Outputs[?OutputKey=='PortalDistributionId'].OutputValue" --output text) && \
	aws s3 sync admin-ui/dist/assets "s3://$$bucket/admin/assets" --cache-control "public,max-age=31536000,immutable" && \
	aws s3 sync admin-ui/dist "s3://$$bucket/admin" --delete --exclude "assets/*" --exclude config.json \
	    --cache-control "no-cache" && \
	aws cloudfront create-invalidation --distribution-id "$$dist" --paths "/admin/" "/admin/index.html" >/dev/null && \
	echo "portal: $$(aws cloudformation describe-stacks --stack-name $(STACK) \
	    --query "Stacks[0].Outputs[?OutputKey=='PortalUrl'].OutputValue" --output text)"

pytest: venv portal ## all tests: unit, contract, integration, e2e and browser (these start the offline runtime)
	$(VPY) -m pytest

unit: venv
	$(VPY) -m pytest tests/unit tests/contract

integration: venv
	$(VPY) -m pytest tests/integration

e2e: venv
	$(VPY) -m pytest tests/e2e

fuzz: venv ## schemathesis over every route of the served OpenAPI document (bounded; part of make test)
	$(VPY) -m pytest tests/e2e/test_fuzz.py

test: lint validate build portal-test pytest ## every check: lint, template validation, build, tests

openapi: venv ## regenerate functions/system/openapi.json and docs/api.md from the routes
	$(VPY) -m tools.openapi

bench: venv ## every benchmark in bench/, each printing figures beside a baseline of the same run
	$(VPY) -m pip install -q -r requirements/bench.txt 2>&1 | grep -v "is ignored" || true
	$(VPY) bench/api_latency.py
	$(VPY) bench/gateway.py
	$(VPY) bench/local_models.py
	$(VPY) bench/vectorstore.py
	$(VPY) bench/chunking.py
	$(VPY) bench/extraction.py
	$(VPY) bench/knowledge.py

clean: ## remove build output and caches (not the virtualenvs or the offline state)
	rm -rf .aws-sam .mypy_cache .ruff_cache .pytest_cache admin-ui/dist test-artifacts
