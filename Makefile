# Two commands do all the set-up on a fresh machine (Python 3.11, pip, gcc):
#   make demo   -- virtual environment, package, synthetic data, notebooks, outputs/
#   make test   -- virtual environment with test tools, then the test suite
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
REGION ?= 14
DEMO_DATA := data/generated/demo
OUT    ?= outputs

.PHONY: demo notebooks test lab lint bench clean venv docs

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@

venv: $(BIN)/.installed

$(DEMO_DATA)/manifest.json: $(BIN)/.installed
	$(BIN)/naravard synth --preset demo --region $(REGION) --seed 0 --out $(DEMO_DATA)

demo: $(DEMO_DATA)/manifest.json
	$(BIN)/naravard run notebooks/00_overview.ipynb -p region_code $(REGION) -p data_dir $(DEMO_DATA) -p output_dir $(OUT)/00_overview
	$(BIN)/naravard report --regions $(REGION) --data $(DEMO_DATA) --out $(OUT)/report
	@echo "Outputs written under $(abspath $(OUT))/ -- open $(abspath $(OUT))/report/$(REGION)/report.html"

# Every topic notebook on the demo world (slower; make demo runs the overview and the report).
notebooks: $(DEMO_DATA)/manifest.json
	for nb in notebooks/[0-9]*.ipynb; do \
	  stem=$$(basename $$nb .ipynb); \
	  $(BIN)/naravard run $$nb -p data_dir $(DEMO_DATA) -p output_dir $(OUT)/$$stem || exit 1; \
	done

test: $(BIN)/.installed
	$(BIN)/python -m pytest

# The documentation site (Sphinx; warnings are errors) -> docs/_build/html/index.html
docs: $(BIN)/.installed
	$(BIN)/sphinx-build -W --keep-going -b html docs docs/_build/html
	@echo "Site written to $(abspath docs/_build/html)/index.html"

lint: $(BIN)/.installed
	$(BIN)/ruff check .

lab: $(BIN)/.installed
	$(BIN)/python -m ipykernel install --user --name naravard_analysis --display-name "Python (naravard_analysis)"
	$(BIN)/jupyter lab --notebook-dir=notebooks

bench: $(BIN)/.installed
	$(BIN)/python -m pip install --quiet -e ".[bench]"
	$(BIN)/python benchmarks/run_all.py --out benchmarks/last_run.jsonl

clean:
	rm -rf $(OUT) data/generated .pytest_cache
