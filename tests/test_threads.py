"""core.engine.threads.one_thread: one torch thread inside, the count given back after, also
when blocks of two threads overlap."""
import threading

import torch

from core.engine.threads import one_thread


def test_one_thread_inside_and_the_count_given_back():
    before = torch.get_num_threads()
    with one_thread():
        assert torch.get_num_threads() == 1
        with one_thread():
            assert torch.get_num_threads() == 1
        assert torch.get_num_threads() == 1  # still inside the outer block
    assert torch.get_num_threads() == before


def test_overlapping_blocks_of_two_threads_keep_one_thread_each_and_restore_the_count():
    before = torch.get_num_threads()
    inside, leave, seen = threading.Event(), threading.Event(), {}

    def other():
        with one_thread():
            inside.set()
            leave.wait(10)
            seen["other"] = torch.get_num_threads()

    t = threading.Thread(target=other)
    t.start()
    inside.wait(10)
    with one_thread():
        seen["main"] = torch.get_num_threads()
    leave.set()
    t.join(10)
    assert seen == {"main": 1, "other": 1}
    assert torch.get_num_threads() == before
