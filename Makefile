# motcua: `make run` starts the whole system on the embedded default; `make test` runs every test.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
UV_VERSION := 0.13.8
PROTOS := $(wildcard proto/motcua/v1/*.proto)
STAMP := $(VENV)/.installed

.PHONY: run test install protos clean lock bench

run: install
	$(PY) -m services.platform.embedded

test: install
	bash tests/run.sh

install: $(STAMP) gen/.stamp

$(STAMP): requirements.lock
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	$(VENV)/bin/uv pip sync --quiet --python $(PY) requirements.lock
	$(VENV)/bin/uv pip install --quiet --python $(PY) uv==$(UV_VERSION)
	printf '%s\n%s\n' "$(CURDIR)" "$(CURDIR)/gen" > $$($(PY) -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/motcua.pth
	touch $@

# Python code is generated from the contracts, never edited by hand.
gen/.stamp: $(PROTOS) $(STAMP)
	rm -rf gen && mkdir -p gen
	$(PY) -m grpc_tools.protoc -I proto --python_out=gen --grpc_python_out=gen --pyi_out=gen $(PROTOS)
	touch $@

protos: gen/.stamp

lock:
	$(VENV)/bin/uv pip compile pyproject.toml --extra dev --python-version 3.11 --generate-hashes -o requirements.lock

bench: install
	$(PY) tests/perf/bench_gateway.py

clean:
	rm -rf $(VENV) gen .cache
