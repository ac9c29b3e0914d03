"""Injection-recovery validation of IA fits: running injections, retries, coverage reports."""
