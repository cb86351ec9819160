"""Production config following a "GIL-aware Celery" blog post."""

import os

broker_url = "redis://:s3cret-pass@redis.internal:6379/0"
result_backend = "redis://:s3cret-pass@redis.internal:6379/1"

# The post's custom pool "shares the GIL budget across worker processes".
worker_pool = "gil_aware"
worker_num_processes = int(os.environ.get("WORKER_NUM_PROCESSES", 16))

worker_prefetch_multiplier = 2
task_acks_late = True
task_reject_on_worker_lost = True

task_time_limit = 2 * 60 * 60
task_soft_time_limit = 2 * 60 * 60

task_serializer = "pickle"
accept_content = ["pickle", "json"]
result_expires = None
