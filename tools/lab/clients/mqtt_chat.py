# Two messenger clients over MQTT with TLS (port 8883): QoS 1 messages, typing notices, receipts.
import argparse
import json
import ssl
import threading
import time

import paho.mqtt.client as mqtt

import convo


class Messenger:
    """One user's app: a persistent MQTT session subscribed to its own inbox topics."""

    def __init__(self, name, host, port, keepalive, rng_seed):
        self.name = name
        self.connected = threading.Event()
        self.c = mqtt.Client(client_id="%s-%d" % (name, rng_seed), clean_session=False)
        self.c.tls_set(cert_reqs=ssl.CERT_NONE)
        self.c.tls_insecure_set(True)
        self.c.on_connect = self.on_connect
        self.c.on_message = self.on_message
        self.c.will_set("presence/%s" % name, json.dumps({"online": False}), qos=1, retain=True)
        self.c.connect(host, port, keepalive)
        self.c.loop_start()

    def on_connect(self, client, userdata, flags, rc):
        client.subscribe([("inbox/%s/#" % self.name, 1), ("presence/+", 0)])
        client.publish("presence/%s" % self.name,
                       json.dumps({"online": True, "t": time.time()}), qos=1, retain=True)
        self.connected.set()

    def on_message(self, client, userdata, msg):
        parts = msg.topic.split("/")
        if len(parts) == 4 and parts[2] == "msg":       # inbox/<me>/msg/<sender>: acknowledge
            body = json.loads(msg.payload)
            client.publish("inbox/%s/receipt/%s" % (parts[3], self.name),
                           json.dumps({"id": body["id"], "state": "delivered"}), qos=1)

    def typing(self, peer, on):
        self.c.publish("inbox/%s/typing/%s" % (peer, self.name),
                       json.dumps({"typing": on}), qos=0)

    def send(self, peer, n, text):
        self.c.publish("inbox/%s/msg/%s" % (peer, self.name),
                       json.dumps({"id": n, "text": text, "t": time.time()}), qos=1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", required=True)
    ap.add_argument("--port", type=int, default=8883)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--keepalive", type=int, default=60)
    a = ap.parse_args()
    names = ["alice%d" % (a.seed % 1000), "bob%d" % (a.seed % 1000)]
    users = [Messenger(n, a.host, a.port, a.keepalive, a.seed) for n in names]
    for u in users:
        if not u.connected.wait(30):
            raise SystemExit("mqtt_chat: %s could not connect to %s:%d" % (u.name, a.host, a.port))
    for n, (who, think, typing, text) in enumerate(convo.conversation(a.seed)):
        time.sleep(think)
        src, peer = users[who], names[1 - who]
        src.typing(peer, True)              # typing notice, refreshed every 5 s of typing
        left = typing
        while left > 5.0:
            time.sleep(5.0)
            left -= 5.0
            src.typing(peer, True)
        time.sleep(left)
        src.send(peer, n, text)


if __name__ == "__main__":
    main()
