"""Trading bounded context: order matching, order and trade services."""
