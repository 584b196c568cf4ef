//! What a watch carries from one pass to the next, so that an event costs
//! what it touches: the open state, the item records (current while no
//! other process commits to the state, which SQLite's `data_version`
//! tells), the local folders' listings (kept current by the events), and
//! what changed since. `flow run` carries nothing: each pass reads and
//! lists everything.

use std::collections::HashSet;

use crate::error::Error;
use crate::layout::Layout;
use crate::plan::{Known, Touched};
use crate::scan::Scan;
use crate::state::State;

/// Between two passes of a watch.
#[derive(Default)]
pub(crate) struct Carry {
    state: Option<State>,
    /// What the last pass ended with, while the state's `data_version` is
    /// the one it ended at.
    kept: Option<Kept>,
    touched: Touched,
}

struct Kept {
    known: Known,
    scan: Scan,
    data_version: i64,
}

/// What a pass starts from.
pub(super) struct Start {
    pub(super) state: State,
    /// The last pass's records and listings, with what changed since: the
    /// pass plans only that. `None`: it reads and lists everything.
    pub(super) kept: Option<(Known, Scan, Touched)>,
}

impl Carry {
    /// An event said the file at `path` (relative to the flow folder)
    /// appeared, changed or vanished. Whether that is news to the host: a
    /// target it promoted itself is not.
    pub(crate) fn file_changed(&mut self, path: &str) -> bool {
        let news = self
            .kept
            .as_mut()
            .is_none_or(|kept| kept.scan.refresh_file(path));
        if news {
            self.touched.files.insert(path.to_owned());
        }
        news
    }

    /// An event said the folder at `path` appeared, vanished or changed
    /// as a whole: it is listed again, and every job that can read or
    /// write below it is planned whole.
    pub(crate) fn folder_changed(&mut self, path: &str) {
        if let Some(kept) = self.kept.as_mut() {
            kept.scan.forget(path);
        }
        self.touched.folders.push(path.to_owned());
    }

    /// Everything is opened, read and listed again at the next pass: a
    /// rescan (which also finds a state file replaced), a new configuration.
    pub(crate) fn forget(&mut self) {
        self.state = None;
        self.kept = None;
        self.touched = Touched::default();
    }

    /// The state to run a pass on, and what is still current of the last.
    pub(super) fn start(&mut self, layout: &Layout) -> Result<Start, Error> {
        let state = match self.state.take() {
            Some(state) => state,
            None => State::open(layout)?,
        };
        let version = state.data_version()?;
        let touched = std::mem::take(&mut self.touched);
        let kept = self.kept.take().filter(|kept| kept.data_version == version);
        let kept = kept.map(|mut kept| {
            // as they are now, not as the event found them: a file being
            // written when its first event came has grown since
            for file in &touched.files {
                kept.scan.refresh_file(file);
            }
            (kept.known, kept.scan, touched)
        });
        Ok(Start { state, kept })
    }

    /// The process exits next: the state is closed as usual, while the
    /// records and listings are left to the operating system instead of
    /// being freed one allocation at a time (5 % of a pass with nothing to
    /// do over 40,000 items).
    pub(crate) fn exit(self) {
        drop(self.state);
        std::mem::forget(self.kept);
    }

    /// What the pass that just ended leaves for the next: its records and
    /// listings, and the items it did not leave up to date.
    pub(super) fn end(
        &mut self,
        state: State,
        known: Known,
        scan: Scan,
        open: HashSet<(usize, String)>,
    ) -> Result<(), Error> {
        self.kept = Some(Kept {
            known,
            scan: scan.carried_over(),
            data_version: state.data_version()?,
        });
        self.touched.open = open;
        self.state = Some(state);
        Ok(())
    }
}
