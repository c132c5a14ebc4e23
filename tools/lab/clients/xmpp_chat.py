# Two slixmpp XMPP clients (STARTTLS) chatting with typing notifications, paced like people.
import argparse
import asyncio
import logging
import ssl

import slixmpp

import convo


class Client(slixmpp.ClientXMPP):
    def __init__(self, jid, password):
        super().__init__(jid, password)
        self.register_plugin("xep_0030")
        self.register_plugin("xep_0085")
        self.register_plugin("xep_0199", {"keepalive": True, "interval": 90})
        self.ready = asyncio.Event()
        self.add_event_handler("session_start", self.on_start)
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        self.ssl_context = ctx

    async def on_start(self, event):
        self.send_presence()
        await self.get_roster()
        self.ready.set()


async def run(a):
    users = [Client("alice@%s/lab" % a.domain, "alice-pw"), Client("bob@%s/lab" % a.domain, "bob-pw")]
    for u in users:
        u.connect(address=(a.host, 5222))
    for u in users:
        await asyncio.wait_for(u.ready.wait(), 30)
    jids = ["alice@%s/lab" % a.domain, "bob@%s/lab" % a.domain]
    for who, think, typing, text in convo.conversation(a.seed):
        await asyncio.sleep(think)
        src = users[who]
        dst = jids[1 - who]
        m = src.make_message(mto=dst, mtype="chat")
        m["chat_state"] = "composing"
        m.send()
        await asyncio.sleep(typing)
        m = src.make_message(mto=dst, mbody=text, mtype="chat")
        m["chat_state"] = "active"
        m.send()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", required=True)
    ap.add_argument("--domain", default="lab.flowpic.test")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    asyncio.get_event_loop().run_until_complete(run(a))


if __name__ == "__main__":
    main()
