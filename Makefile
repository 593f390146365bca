# The two commands of the README: `make demo` and `make test`. Both install what they need first.
PY := .venv/bin/python
SEED ?= 0

.PHONY: install demo test toy-data clean

install:
	bash tools/install/install.sh

demo: install
	$(PY) tools/demo.py --work-dir work_dirs/demo --seed $(SEED)

test: install
	$(PY) -m pytest tests -q -x -p no:cacheprovider --durations=15

toy-data: install
	$(PY) tools/make_toy_data.py --out data/toy

clean:
	rm -rf work_dirs .pytest_cache
