# gunicorn configuration for the intake onion service: `gunicorn -c /etc/intake/gunicorn.conf.py intake.wsgi:app`
# (deploy/intake.service runs exactly that). Every line here is checked by tests/deploy/test_gunicorn_config.py
# and used, with only the bind address changed, by the real Tor network test (tests/deploy/test_tor_network.py).
#
# Why each setting:
# - tor is the only client. It connects over a Unix socket that only the tor user's group may open, so no other
#   local process can reach the app or forge the PROXY line that names the circuit.
# - tor opens the stream with a PROXY v1 line (HiddenServiceExportCircuitID haproxy). CircuitWorker keeps that
#   circuit for every request on the connection and refuses connections without it.
# - No access log, and nothing of a request in the error log: the server keeps no trace of who sent what.

bind = ["unix:/run/intake/gunicorn.sock"]
umask = 0o007  # the socket is rw for the intake user and its group (tor's user is a member); nothing else
worker_class = "intake.circuit_worker.CircuitWorker"
workers = 2
threads = 8
# Tor circuits are slow: a request may take seconds to arrive. gthread parks idle connections in a poller,
# so slow clients do not hold threads; the timeouts bound what a flooder can hold open.
timeout = 30
graceful_timeout = 20
keepalive = 20
worker_connections = 200
# A worker is replaced after this many requests (hygiene). Each new worker starts with empty rate-limit state
# (intake.limits keeps it in memory): at 5,000 a flood had both workers replaced every half minute, and every
# flood circuit looked fresh to the new one; at 50,000, every 100 s under a flood of 1,000 requests a second
# (bench/flood_bench.py). 1,000,000: a quarter of an hour under that flood, weeks in ordinary use.
max_requests = 1000000
max_requests_jitter = 50000

# PROXY protocol v1 only (tor never sends v2), and only from local peers. A Unix-socket peer is always local.
proxy_protocol = "v1"
proxy_allow_ips = "127.0.0.1,::1"
# Nobody in front of gunicorn sets forwarding headers: honour none of them, whoever the peer is.
forwarded_allow_ips = "127.0.0.1,::1"
secure_scheme_headers: dict[str, str] = {}
forwarder_headers = ""
header_map = "refuse"
http_protocols = "h1"

# Bounds on what a request may be before the app sees it (the app bounds the body itself).
limit_request_line = 2048
limit_request_fields = 40
limit_request_field_size = 4096

# Logging: no access log at all; errors only (gunicorn's "Invalid request" warnings quote request lines).
accesslog = None
disable_redirect_access_to_syslog = True
errorlog = "-"
loglevel = "error"
capture_output = False

# No control socket (it would be written into $HOME, which the unit makes read-only) and no process title
# that says more than needed.
control_socket_disable = True
proc_name = "intake"
# Heartbeat files in RAM, not on the disk systemd makes read-only.
worker_tmp_dir = "/dev/shm"  # noqa: S108 (a tmpfs, private to the service under PrivateDevices)
preload_app = False
