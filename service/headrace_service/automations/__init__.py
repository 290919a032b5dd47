"""Automations: trigger matching (pure), templates, the action executors and the evaluator loop."""
