"""The doors into Paperround: CLI, Celery tasks, web app, capture SMTP server. Each stays thin."""
