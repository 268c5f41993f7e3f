"""The local AWS sandbox: a development and test tool that plays the portal's AWS services over
their real wire protocols. Not installed in production; the portal never imports it."""
