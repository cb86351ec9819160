"""Django settings for the `shop` project (Celery read with namespace="CELERY")."""

import os

DEBUG = False
INSTALLED_APPS = ["django.contrib.contenttypes", "shop"]
ROOT_URLCONF = "shop.urls"

BROKER_URL = os.environ.get("BROKER_URL", "amqp://guest@localhost//")
CELERY_RESULT_BACKEND = "django-db"
CELERY_WORKER_CONCURRENCY = 8
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ACKS_LATE = True
CELERY_ALWAYS_EAGER = False
CELERY_TASK_TIME_LIMIT = 300
CELERY_TASK_SOFT_TIME_LIMIT = 240
CELERY_WORKER_SEND_TASK_EVENT = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
