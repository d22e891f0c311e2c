"""semingest worker: everything that runs inside the Spark pods."""
