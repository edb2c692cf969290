"""The browser app served at `/`: plain ES modules on the public /v1 API, no build step."""
