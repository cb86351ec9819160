"""Benchmark-style config, as copied from a load-testing blog post."""

broker_url = "memory://"
result_backend = "cache+memory://"

worker_pool = "prefork"
worker_prefetch_multiplier = 4
worker_max_tasks_per_child = 0  # "0 = never recycle"

task_serializer = "json"
accept_content = ["json"]
