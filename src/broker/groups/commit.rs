//! OffsetCommit and OffsetFetch, the sweep that gives abandoned groups' room back, and the
//! retention of the offsets of groups left without members.

use super::membership::{expire, file_stem, forget_if_idle, member_of, sweep};
use super::offsets_file::{self, JOURNAL_MIN_BYTES};
use super::{
    code, committed_bytes, Answer, Committed, Group, Groups, Phase, MAX_COMMITTED_BYTES,
    MAX_COMMITTED_BYTES_PER_GROUP, MAX_GROUPS, MAX_OFFSET_METADATA_BYTES, SWEEP_INTERVAL,
};
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// How often a commit or a join looks for groups whose offsets outlived their retention, when
/// no bound has made a sweep run sooner.
pub const RETENTION_SWEEP_INTERVAL: Duration = Duration::from_secs(60);

/// What a commit writes, and applies once written.
struct CommitPlan {
    write: Write,
    codes: Vec<i16>,
    group_bytes: usize,
    stem: String,
    seq: u64,
}

/// A commit's write: a new snapshot of every offset, or a journal line of the changed ones.
enum Write {
    Snapshot(BTreeMap<String, Committed>),
    Journal(BTreeMap<String, Committed>),
}

impl Groups {
    /// OffsetCommit: `generation` −1 with no member id commits for a group without members
    /// (a consumer that assigns itself). `exists` tells whether a topic exists. The answer is
    /// a code per offset, or one code for the whole request.
    ///
    /// The commit is written (a journal line, or now and then a snapshot: see
    /// [`offsets_file`]) with only `writing` held, not the groups' lock, so a commit in its
    /// write never holds up another group's join, sync or heartbeat.
    pub fn commit(
        &self,
        group_id: &str,
        generation: i32,
        member_id: &str,
        offsets: Vec<(String, i32, Committed)>,
        exists: impl Fn(&str) -> bool,
    ) -> Answer<Vec<i16>> {
        super::check_group_id(group_id)?;
        let _writing = self.writing.lock();
        let plan = match self.plan_commit(group_id, generation, member_id, offsets, exists)? {
            Ok(plan) => plan,
            Err(unchanged) => return Ok(unchanged),
        };
        let stored = match &plan.write {
            Write::Snapshot(all) => {
                offsets_file::write_snapshot(&self.dir, &plan.stem, group_id, plan.seq, all).map(|()| 0)
            }
            Write::Journal(changes) => offsets_file::append(&self.dir, &plan.stem, plan.seq, changes),
        };
        let mut groups = self.groups.lock();
        // `committing` kept the group from being forgotten while its file was written.
        let group = groups.get_mut(group_id).ok_or(code::UNKNOWN_MEMBER_ID)?;
        group.committing = false;
        let codes = match stored {
            Ok(appended) => {
                match plan.write {
                    Write::Snapshot(all) => (group.offsets, group.journal_bytes) = (all, 0),
                    Write::Journal(changes) => {
                        group.offsets.extend(changes);
                        group.journal_bytes += appended;
                    }
                }
                // By the difference, not the total the plan saw: a sweep may have expired other
                // groups meanwhile. Only commits change `group.bytes`, one at a time (`writing`).
                match plan.group_bytes >= group.bytes {
                    true => self.committed.fetch_add(plan.group_bytes - group.bytes, Ordering::Relaxed),
                    false => self.committed.fetch_sub(group.bytes - plan.group_bytes, Ordering::Relaxed),
                };
                group.bytes = plan.group_bytes;
                group.file = Some(plan.stem);
                group.active = Instant::now();
                plan.codes
            }
            Err(e) => {
                eprintln!("synclog: kafka: cannot store the offsets of group {group_id:?}: {e}");
                if matches!(plan.write, Write::Journal(_)) {
                    // What the journal holds is no longer known: the next commit writes a snapshot.
                    group.journal_bytes = u64::MAX;
                }
                let failed =
                    plan.codes.iter().map(|&c| if c == code::NONE { code::KAFKA_STORAGE_ERROR } else { c });
                failed.collect()
            }
        };
        forget_if_idle(&mut groups, group_id);
        Ok(codes)
    }

    /// Under the groups' lock: checks the request, and either answers it at once (`Err`: no
    /// offset changes) or returns what to write, with the group marked `committing` and its
    /// next sequence number taken.
    fn plan_commit(
        &self,
        group_id: &str,
        generation: i32,
        member_id: &str,
        offsets: Vec<(String, i32, Committed)>,
        exists: impl Fn(&str) -> bool,
    ) -> Answer<Result<CommitPlan, Vec<i16>>> {
        let mut groups = self.groups.lock();
        self.sweep_if_due(&mut groups, RETENTION_SWEEP_INTERVAL);
        if generation < 0 && member_id.is_empty() {
            if groups.len() >= MAX_GROUPS && !groups.contains_key(group_id) {
                self.sweep_if_due(&mut groups, SWEEP_INTERVAL);
                if groups.len() >= MAX_GROUPS {
                    return Err(code::POLICY_VIOLATION);
                }
            }
            let group = groups.entry(group_id.to_owned()).or_insert_with(Group::new);
            expire(group, Instant::now());
            if !group.members.is_empty() {
                return Err(code::UNKNOWN_MEMBER_ID);
            }
        } else if matches!(
            member_of(&mut groups, group_id, generation, member_id)?.phase,
            Phase::Joining { .. }
        ) {
            return Err(code::REBALANCE_IN_PROGRESS);
        }
        let stem =
            groups.get(group_id).and_then(|g| g.file.clone()).unwrap_or_else(|| file_stem(&groups, group_id));
        let group = groups.get_mut(group_id).ok_or(code::UNKNOWN_MEMBER_ID)?;
        let mut changes = BTreeMap::new();
        let (mut group_bytes, mut total) = (group.bytes, self.committed.load(Ordering::Relaxed));
        let codes: Vec<i16> = offsets
            .into_iter()
            .map(|(topic, partition, committed)| {
                if partition != 0 || !exists(&topic) {
                    return code::UNKNOWN_TOPIC_OR_PARTITION;
                }
                if committed.metadata.as_ref().is_some_and(|m| m.len() > MAX_OFFSET_METADATA_BYTES) {
                    return code::OFFSET_METADATA_TOO_LARGE;
                }
                let before = changes.get(&topic).or_else(|| group.offsets.get(&topic));
                let old = before.map_or(0, |c| committed_bytes(&topic, c));
                let new = committed_bytes(&topic, &committed);
                let (grown_group, grown_total) =
                    ((group_bytes + new).saturating_sub(old), (total + new).saturating_sub(old));
                if new > old
                    && (grown_group > MAX_COMMITTED_BYTES_PER_GROUP || grown_total > MAX_COMMITTED_BYTES)
                {
                    return code::POLICY_VIOLATION;
                }
                changes.insert(topic, committed);
                (group_bytes, total) = (grown_group, grown_total);
                code::NONE
            })
            .collect();
        changes.retain(|topic, c| group.offsets.get(topic) != Some(c));
        if changes.is_empty() {
            if codes.contains(&code::NONE) {
                // Committed again, unchanged: its retention starts again too.
                group.active = Instant::now();
            }
            forget_if_idle(&mut groups, group_id);
            return Ok(Err(codes));
        }
        let compact = group.journal_bytes >= JOURNAL_MIN_BYTES.max(group_bytes as u64);
        let write = match group.file.is_none() || compact {
            true => {
                let mut all = group.offsets.clone();
                all.extend(changes);
                Write::Snapshot(all)
            }
            false => Write::Journal(changes),
        };
        group.committing = true;
        group.seq += 1;
        Ok(Ok(CommitPlan { write, codes, group_bytes, stem, seq: group.seq }))
    }

    /// OffsetFetch: the committed offset of each topic in `topics` (every committed one for
    /// `None`); a topic with none has no entry. Only those are copied, under the groups' lock.
    pub fn committed(&self, group_id: &str, topics: Option<&[&str]>) -> BTreeMap<String, Committed> {
        let groups = self.groups.lock();
        let Some(group) = groups.get(group_id) else { return BTreeMap::new() };
        match topics {
            None => group.offsets.clone(),
            Some(topics) => topics
                .iter()
                .filter_map(|&t| group.offsets.get_key_value(t))
                .map(|(t, c)| (t.clone(), c.clone()))
                .collect(),
        }
    }

    /// Sweeps every group ([`sweep`]) and deletes the offsets that outlived their retention
    /// ([`Groups::expire_offsets`]), unless the last sweep ran less than `interval` ago: a
    /// sweep walks every member of every group under the groups' lock, so clients pressing on
    /// a bound cannot make every request pay one.
    pub(super) fn sweep_if_due(&self, groups: &mut HashMap<String, Group>, interval: Duration) {
        let now = u64::try_from(self.opened.elapsed().as_millis()).unwrap_or(u64::MAX);
        let last = self.last_sweep_ms.load(Ordering::Relaxed);
        // Only ever changed under the groups' lock, which the caller holds.
        if last == 0 || now >= last.saturating_add(interval.as_millis() as u64) {
            self.last_sweep_ms.store(now.max(1), Ordering::Relaxed);
            sweep(groups);
            self.expire_offsets(groups);
        }
    }

    /// Forgets every group that has had no members for longer than the retention
    /// (`--offsets-retention-ms`) since it last had one or last committed, deleting its files:
    /// Kafka's `offsets.retention.minutes`. A group whose files cannot be deleted is kept.
    fn expire_offsets(&self, groups: &mut HashMap<String, Group>) {
        let now = Instant::now();
        let expired = |g: &Group| {
            g.members.is_empty() && !g.committing && now.saturating_duration_since(g.active) > self.retention
        };
        let mut freed = 0;
        groups.retain(|id, g| {
            if !expired(g) {
                return true;
            }
            if let Some(stem) = &g.file {
                if let Err(e) = offsets_file::remove(&self.dir, stem) {
                    eprintln!("synclog: kafka: cannot delete the expired offsets of group {id:?}: {e}");
                    return true;
                }
            }
            freed += g.bytes;
            false
        });
        self.committed.fetch_sub(freed, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::broker::groups::{DEFAULT_OFFSETS_RETENTION, GROUPS_DIR};
    use std::fs;

    fn commit(groups: &Groups, group: &str, topic: &str, offset: i64) -> Vec<i16> {
        let offsets = vec![(topic.to_owned(), 0, Committed { offset, metadata: None })];
        groups.commit(group, -1, "", offsets, |_| true).expect("answered")
    }

    #[test]
    fn commits_append_to_the_journal_until_it_outgrows_the_group_then_one_writes_a_snapshot() {
        let data = tempfile::tempdir().expect("dir");
        let groups = Groups::open(data.path(), DEFAULT_OFFSETS_RETENTION).expect("open");
        let journal = data.path().join(GROUPS_DIR).join(format!("{}.journal", "67"));
        assert_eq!(commit(&groups, "g", "other", 1), [code::NONE]);
        assert!(!journal.exists(), "a group's first commit writes its snapshot only");
        let mut longest = 0;
        let mut shrank = false;
        for offset in 0..1500 {
            assert_eq!(commit(&groups, "g", "t", offset), [code::NONE]);
            let len = fs::metadata(&journal).map_or(0, |m| m.len());
            shrank |= len < longest;
            longest = longest.max(len);
        }
        assert!(shrank, "the journal was never compacted into a snapshot");
        assert!(longest < JOURNAL_MIN_BYTES + 100, "the journal grew to {longest} bytes");
        let journal_len = || fs::metadata(&journal).map_or(0, |m| m.len());
        let before = journal_len();
        assert_eq!(commit(&groups, "g", "t", 1499), [code::NONE], "no change: answered");
        assert_eq!(journal_len(), before, "no change: nothing written");
        drop(groups);
        let reopened = Groups::open(data.path(), DEFAULT_OFFSETS_RETENTION).expect("reopen");
        let committed = reopened.committed("g", None);
        assert_eq!((committed["t"].offset, committed["other"].offset), (1499, 1));
        // Named topics: only those, and none for a topic never committed.
        let named = reopened.committed("g", Some(&["other", "never"]));
        assert_eq!(named.keys().collect::<Vec<_>>(), ["other"]);
        assert!(reopened.committed("no such group", Some(&["t"])).is_empty());
    }

    #[test]
    fn a_sweep_forgets_groups_without_members_past_their_retention_and_deletes_their_files() {
        let data = tempfile::tempdir().expect("dir");
        let retention = Duration::from_secs(10);
        let groups = Groups::open(data.path(), retention).expect("open");
        for offset in 0..2 {
            assert_eq!(commit(&groups, "old", "t", offset), [code::NONE]);
        }
        let files = || fs::read_dir(data.path().join(GROUPS_DIR)).expect("dir").count();
        assert_eq!(files(), 2, "a snapshot and a journal");
        assert_eq!(commit(&groups, "new", "t", 7), [code::NONE]);
        // "live" has a member, who joined and commits.
        let request = super::super::JoinRequest {
            group_id: "live",
            member_id: "",
            session_ms: 60_000,
            rebalance_ms: 60_000,
            protocol_type: "consumer",
            protocols: vec![("range".to_owned(), bytes::Bytes::new())],
        };
        let joined = groups.join(request, &std::sync::atomic::AtomicBool::new(false)).expect("joined");
        let offsets = vec![("t".to_owned(), 0, Committed { offset: 3, metadata: None })];
        let codes = groups.commit("live", joined.generation, &joined.member_id, offsets, |_| true);
        assert_eq!(codes, Ok(vec![code::NONE]));
        // "old" and "live" last committed longer ago than their retention.
        let active = Instant::now().checked_sub(retention + Duration::from_secs(1)).expect("11 s of uptime");
        for id in ["old", "live"] {
            groups.groups.lock().get_mut(id).expect("group").active = active;
        }
        groups.sweep_if_due(&mut groups.groups.lock(), Duration::ZERO);
        assert!(groups.committed("old", None).is_empty(), "past its retention");
        assert_eq!(groups.committed("new", None)["t"].offset, 7, "within its retention");
        assert_eq!(groups.committed("live", None)["t"].offset, 3, "a group with a member keeps its offsets");
        assert_eq!(files(), 2, "the old group's files are deleted");
        let counted = |offset| committed_bytes("t", &Committed { offset, metadata: None });
        assert_eq!(groups.committed.load(Ordering::Relaxed), counted(7) + counted(3));
    }

    #[test]
    fn the_all_groups_total_stays_the_sum_of_the_groups_while_expiries_race_commits() {
        let data = tempfile::tempdir().expect("dir");
        let groups = std::sync::Arc::new(Groups::open(data.path(), Duration::from_secs(10)).expect("open"));
        let busy = std::sync::Arc::clone(&groups);
        let writer = std::thread::spawn(move || {
            for offset in 0..1000 {
                assert_eq!(commit(&busy, "busy", "t", offset), [code::NONE]);
            }
        });
        for i in 0..100 {
            let id = format!("old-{i}");
            assert_eq!(commit(&groups, &id, "t", 1), [code::NONE]);
            let past = Instant::now().checked_sub(Duration::from_secs(11)).expect("11 s of uptime");
            groups.groups.lock().get_mut(&id).expect("group").active = past;
            // What a join does once a minute: a sweep under the groups' lock, without `writing`,
            // possibly between a commit's plan and its write's end.
            groups.sweep_if_due(&mut groups.groups.lock(), Duration::ZERO);
        }
        writer.join().expect("writer");
        let held: usize = groups.groups.lock().values().map(|g| g.bytes).sum();
        assert_eq!(groups.committed.load(Ordering::Relaxed), held, "the total drifted from the groups'");
    }
}
