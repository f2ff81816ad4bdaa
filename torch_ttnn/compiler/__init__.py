"""The compiler: lowering registry, rules, passes and the pipeline."""
