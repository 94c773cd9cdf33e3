"""Code benchmarks: grading generated code offline in a sandbox (HumanEval, MBPP, LiveCodeBench-format
problems, the Aider polyglot exercises), with pass@k and per-language reports. See docs/codegen-harness.md."""
