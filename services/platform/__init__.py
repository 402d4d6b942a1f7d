"""What every motcua service needs: settings, logging, gRPC and NATS plumbing, database helpers."""
