"""semingest operator: kopf handlers that turn SemIngest resources into Spark runs."""
