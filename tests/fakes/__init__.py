"""Local stand-ins for services we do not own, reached over real sockets (used by tests/ and bench/)."""
