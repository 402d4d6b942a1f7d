"""The API gateway and public portal: REST and Vietnamese web pages over the services' gRPC."""
