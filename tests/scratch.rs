//! What an interrupted harness stops: `experiment::scratch::kill_all`, in a process of its own
//! (it leaves the list of children locked, as the ending harness does).

use std::os::unix::process::ExitStatusExt;
use std::process::Command;
use synclog::experiment::scratch::{kill_all, Spawned};

#[test]
fn an_interrupt_kills_and_reaps_every_listed_child() {
    let children: Vec<Spawned> =
        (0..2).map(|_| Spawned::spawn(Command::new("sleep").arg("60")).expect("spawn sleep")).collect();
    for child in &children {
        assert_eq!(child.try_wait().expect("try_wait"), None, "running before the interrupt");
    }
    assert_eq!(kill_all(), 2);
    for child in &children {
        // Killed and already reaped: the status is there without waiting.
        let status = child.try_wait().expect("try_wait").expect("ended by kill_all");
        assert_eq!(status.signal(), Some(9), "{status:?}");
    }
    // Dropping one would wait for the list, which stays locked as the process ends.
    std::mem::forget(children);
}
