"""What every HTTP answer goes through: headers, limits, logs, sessions, OpenAPI, language."""
