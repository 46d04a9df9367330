"""Built-in indicator protocols; importing this package registers them all."""
