"""Prompt-injection detectors: the rule-based layers and the learned one."""
