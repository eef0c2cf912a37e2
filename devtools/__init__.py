"""Local stack for development and tests: emulators and the dev host. Never deployed."""
