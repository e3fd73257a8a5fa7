"""What every app shares and that knows no app: errors, crypto, env, embedded services, logs, events, health."""
