# chat applications: Prosody XMPP (STARTTLS) with slixmpp clients, ngIRCd IRC over TLS, Mosquitto MQTT over TLS.
import os

HERE = os.path.dirname(os.path.abspath(__file__))
DOMAIN = "lab.flowpic.test"

PROSODY_CONF = """pidfile = "{d}/prosody.pid"
data_path = "{d}/data"
run_as_root = true
log = {{ warn = "{d}/prosody.log" }}
interfaces = {{ "*" }}
c2s_ports = {{ 5222 }}
c2s_require_encryption = true
authentication = "internal_plain"
modules_enabled = {{ "roster"; "saslauth"; "tls"; "disco"; "ping"; "carbons"; "presence";
                    "message"; "iq"; "time"; "version"; "uptime" }}
modules_disabled = {{ "s2s"; "offline"; "posix" }}
ssl = {{ key = "{key}"; certificate = "{crt}" }}
VirtualHost "{dom}"
    ssl = {{ key = "{key}"; certificate = "{crt}" }}
"""

NGIRCD_CONF = """[Global]
    Name = irc.{dom}
    Info = flowpic lab IRC
    Listen = 0.0.0.0
    Ports = 6667
    PidFile = {d}/ngircd.pid
    MotdPhrase = welcome
[Limits]
    PingTimeout = {ping}
    PongTimeout = 20
    MaxNickLength = 16
[Options]
    DNS = no
    Ident = no
    PAM = no
[SSL]
    CertFile = {crt}
    KeyFile = {key}
    Ports = 6697
"""


MOSQUITTO_CONF = """pid_file {d}/mosquitto.pid
user root
persistence false
log_dest file {d}/mosquitto.log
listener 8883
certfile {crt}
keyfile {key}
allow_anonymous true
"""


class _Chat:
    category = "chat"

    def draw(self, rng, duration):
        return {"seed": rng.randrange(1 << 30), "ping_s": rng.choice([45, 60, 90]),
                "link_kbit": rng.choice([None, 1000, 5000])}

    def serve(self, sess, server, conf_name, template, argv, port, client, extra=()):
        """Write server's configuration (template with d, key, crt, dom, ping) into its
        directory, start it (argv(conf)), wait for its TLS port, start the client pair."""
        d = sess.path(server)
        os.makedirs(d, exist_ok=True)
        key, crt = sess.cert()
        conf = os.path.join(d, conf_name)
        with open(conf, "w") as f:
            f.write(template.format(d=d, key=key, crt=crt, dom=DOMAIN,
                                    ping=sess.params["ping_s"]))
        sess.spawn("s", argv(conf), server)
        if not sess.wait_listen(port):
            raise RuntimeError("%s did not start" % server)
        sess.spawn("c", ["/usr/bin/python3", os.path.join(HERE, "clients", client + "_chat.py"),
                         "--host", sess.server_ip, "--seed", str(sess.params["seed"])]
                   + list(extra), client + "-clients", client=True)


class XmppChat(_Chat):
    """Prosody server, two slixmpp clients exchanging messages and chat states (XEP-0085)."""
    name = "xmpp-prosody"

    def ports(self, sess):
        return [("tcp", 5222)]

    def start(self, sess):
        d = sess.path("prosody")
        accounts = os.path.join(d, "data", DOMAIN.replace(".", "%2e"), "accounts")
        os.makedirs(accounts, exist_ok=True)
        for user in ("alice", "bob"):
            with open(os.path.join(accounts, user + ".dat"), "w") as f:
                f.write('return {\n\t["password"] = "%s-pw";\n};\n' % user)
        self.serve(sess, "prosody", "prosody.cfg.lua", PROSODY_CONF,
                   lambda conf: ["prosody", "--config", conf, "-F"], 5222, "xmpp")


class IrcChat(_Chat):
    """ngIRCd server with TLS on 6697, two IRC clients in a channel and in private messages."""
    name = "irc-ngircd"

    def ports(self, sess):
        return [("tcp", 6697)]

    def start(self, sess):
        self.serve(sess, "ngircd", "ngircd.conf", NGIRCD_CONF,
                   lambda conf: ["ngircd", "-n", "-f", conf], 6697, "irc")


class MqttChat(_Chat):
    """Mosquitto broker with TLS on 8883, two messenger clients (paho): QoS 1 messages to each
    other's inbox topics, typing notices, delivery receipts, retained presence, as messengers
    built on MQTT do."""
    name = "mqtt-mosquitto"

    def ports(self, sess):
        return [("tcp", 8883)]

    def start(self, sess):
        self.serve(sess, "mosquitto", "mosquitto.conf", MOSQUITTO_CONF,
                   lambda conf: ["mosquitto", "-c", conf], 8883, "mqtt",
                   ["--keepalive", str(sess.params["ping_s"])])


APPS = [XmppChat(), IrcChat(), MqttChat()]
