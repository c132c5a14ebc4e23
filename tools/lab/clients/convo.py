# Human-like two-party chat script: who speaks, when they start typing, how long they type, what they send.
import random

WORDS = ("ok yes no maybe sure thanks lol haha see you later tomorrow tonight meeting call lunch "
         "coffee code review build broken fixed deploy weekend plans movie game train late early "
         "sounds good what about that one really nice cool great idea hmm wait let me check").split()


def conversation(seed, n_max=100000):
    """Yield (speaker 0/1, think seconds, typing seconds, text) for a chat between two people."""
    rng = random.Random(seed)
    speed = [rng.uniform(2.5, 7.0), rng.uniform(2.5, 7.0)]  # characters per second
    speaker = rng.randrange(2)
    for _ in range(n_max):
        if rng.random() < 0.08:
            think = rng.uniform(45.0, 200.0)  # away from the keyboard
        else:
            think = min(120.0, rng.lognormvariate(1.6, 0.9))
        n_words = max(1, int(rng.lognormvariate(1.6, 0.8)))
        text = " ".join(rng.choice(WORDS) for _ in range(n_words))
        typing = len(text) / speed[speaker] * rng.uniform(0.8, 1.4)
        yield speaker, think, typing, text
        if rng.random() < 0.7:
            speaker = 1 - speaker
