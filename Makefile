# Two commands set everything up:  make run  (train the default recipe)  and  make test.
# The stack is pinned in requirements.lock and installed with uv (seconds with its cache).
PY ?= python3
VENV := .venv
VPY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export MLFLOW_DISABLE_TELEMETRY := true

.PHONY: install run test test-fast test-slow bench lock clean

install: $(STAMP)

# Reinstall only when the lock file or package metadata changes.
$(STAMP): requirements.lock overrides.txt setup.cfg pyproject.toml
	@command -v uv >/dev/null 2>&1 || $(PY) -m pip install --quiet uv
	@test -x $(VPY) || uv venv --quiet --python $(PY) $(VENV)
	uv pip install --python $(VPY) -r requirements.lock --override overrides.txt || \
		uv pip install --python $(VPY) -r requirements.lock --override overrides.txt
	uv pip install --python $(VPY) --no-deps -e . --config-settings editable_mode=compat
	@touch $(STAMP)

run: install
	$(VPY) -m prism_runner $(ARGS)

# The default suite (minutes); `slow` learning tests run with test-slow.
test: install
	$(VPY) -m pytest -m "not slow" $(PYTEST_ARGS)
	$(VPY) -m pytest -m slow $(PYTEST_ARGS)

test-fast: install
	$(VPY) -m pytest -m "not slow" $(PYTEST_ARGS)

test-slow: install
	$(VPY) -m pytest -m slow $(PYTEST_ARGS)

bench: install
	$(VPY) scripts/bench/run_all.py

# Re-resolve the pinned stack (needs the registries); commit requirements.lock afterwards.
lock:
	uv pip compile requirements.in --override overrides.txt --python-version 3.11 -o requirements.lock

clean:
	rm -rf $(VENV) outputs multirun
