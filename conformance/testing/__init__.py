"""Test helpers that ship with the suite: the scripted reference server (:mod:`.fakeserver`)."""
