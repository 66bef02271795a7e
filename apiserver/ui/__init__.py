"""The browser page at `/ui/`: a small JavaScript application shipped as package data, its
sign-in and session routes, and the security headers every page response carries."""
