"""Side effects after commit: the outbox, its relay (RabbitMQ / in-process) and the email notifier."""
