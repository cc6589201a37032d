"""gRPC servicers: validate and translate requests, call a manager, translate the answer.

One module per RPC, as in the reference server; :mod:`containerz.server.servicer`
binds them to the generated service class.
"""
