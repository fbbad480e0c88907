//! The `bitzel-sandbox` binary's side of [`super::Sandbox`]: three kinds
//! of process, each single-threaded, so forking is safe.
//!
//! 1. The *zygote*, started once per [`super::Sandbox`]: waits for spawn
//!    requests on its control socket (stdin) and hands each to an init
//!    it cloned ahead, directly into new user, mount, pid, UTS, IPC and
//!    network namespaces, then clones the next; a task with the network
//!    gets an init cloned on demand without a network namespace. Cloning
//!    this small process costs a fraction of exec'ing a new one, which is
//!    the point of having it. End of file on the control socket (bitzel
//!    exited, was killed, or dropped the `Sandbox`) ends it.
//! 2. The *init*, pid 1 of the task's pid namespace, with
//!    `PR_SET_PDEATHSIG` = `SIGKILL` towards the zygote. Before it has a
//!    task: maps the caller's uid and gid to themselves and brings `lo`
//!    up. Then it takes the request's descriptors, reads the plan from the
//!    sandbox's socket, builds the view from its ops, enters it, drops its
//!    capabilities and starts the task with `posix_spawn` (no page tables
//!    copied). It reaps every process until the task exits, kills and
//!    reaps whatever the task left (or everything, when bitzel asks or
//!    goes away), reports the task's raw wait status and exits.
//! 3. The *task*: default signal dispositions, an empty mask, stdin
//!    `/dev/null`, exactly the plan's environment, no capabilities and
//!    `no_new_privs` (from the init).
//!
//! The view is a tmpfs mounted, in the init's private mount namespace, on
//! an empty directory of the sandbox's cache (so it hides no bind
//! source); binds come from the host paths themselves, and the init
//! `chroot`s into it. The host's tree stays mounted outside the root
//! rather than being detached: detaching it costs an expedited RCU grace
//! period per task, and `pivot_root` walks every thread of the machine.
//! That is sound because the task cannot leave a chroot: it has no
//! capabilities, `no_new_privs`, and may create no user namespace (the
//! init sets `user.max_user_namespaces` to 0 in its own), which is the
//! only way to regain `CAP_SYS_CHROOT`; `/proc/1/root` is closed to it as
//! the init keeps capabilities the task lacks.
//!
//! Invariant: neither the zygote nor the init writes to the task's
//! stdout or stderr; failures reach bitzel as `Reply::Failed`.

use std::ffi::CString;
use std::io::Read;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::mount::{MsFlags, mount};
use nix::poll::{PollFd, PollFlags, PollTimeout};
use nix::sched::CloneFlags;
use nix::sys::signal::{SigHandler, Signal};
use nix::unistd::Pid;

use super::protocol::{KILL, NETWORK, NoSigPipe, Reply, read_frame, write_frame};
use super::view::{Op, PLAN_VERSION, Plan};

/// Exit code of an init that could not do its job (the reason went to
/// bitzel).
const FAILED: i32 = 127;

/// The stack the zygote clones inits on (each gets its own copy).
const INIT_STACK: usize = 1 << 20;

/// A failed step: an op of the plan or a named step, and the errno.
#[derive(Debug)]
struct Failure {
    op: Option<usize>,
    step: String,
    errno: Errno,
    unsupported: bool,
}

impl Failure {
    fn reply(&self) -> Reply {
        Reply::Failed {
            op: self.op,
            step: self.step.clone(),
            errno: self.errno as i32,
            unsupported: self.unsupported,
        }
    }
}

fn fail(step: impl Into<String>, errno: Errno) -> Failure {
    Failure {
        op: None,
        step: step.into(),
        errno,
        unsupported: false,
    }
}

trait Context<T> {
    fn step(self, step: &str) -> Result<T, Failure>;
}

impl<T> Context<T> for nix::Result<T> {
    fn step(self, step: &str) -> Result<T, Failure> {
        self.map_err(|errno| fail(step, errno))
    }
}

impl<T> Context<T> for std::io::Result<T> {
    fn step(self, step: &str) -> Result<T, Failure> {
        self.map_err(|e| fail(step, errno_of(&e)))
    }
}

/// The `bitzel-sandbox` binary's `main`: the zygote. Never returns.
pub fn helper_main() -> ! {
    // The control socket arrives as stdin; move it off fd 0 and give fds
    // 0 to 2 /dev/null, so no descriptor number is ever stray.
    let control = match nix::fcntl::fcntl(std::io::stdin(), nix::fcntl::F_DUPFD_CLOEXEC(3)) {
        // SAFETY: F_DUPFD_CLOEXEC returned a new descriptor nobody else owns.
        Ok(fd) => unsafe { OwnedFd::from_raw_fd(fd) },
        Err(_) => exit(FAILED),
    };
    if let Ok(null) = nix::fcntl::open(
        "/dev/null",
        OFlag::O_RDWR | OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    ) {
        let _ = nix::unistd::dup2_stdin(&null);
        let _ = nix::unistd::dup2_stdout(&null);
        let _ = nix::unistd::dup2_stderr(&null);
    }
    // Inits report through their sockets; the kernel reaps them.
    // SAFETY: SIG_IGN installs no handler.
    let _ = unsafe { nix::sys::signal::signal(Signal::SIGCHLD, SigHandler::SigIgn) };
    // Held open for the zygote's whole life: an init that finds it closed
    // knows the zygote died before its parent-death signal was armed.
    let Ok((life_read, _life_write)) = nix::unistd::pipe2(OFlag::O_CLOEXEC) else {
        exit(FAILED)
    };
    let mut zygote = Zygote {
        ids: (
            nix::unistd::getuid().as_raw(),
            nix::unistd::getgid().as_raw(),
        ),
        life_read,
        stack: vec![0u8; INIT_STACK],
    };
    // One init cloned ahead for isolated tasks: creating the namespaces
    // (a network namespace most of all) is the largest part of setting up
    // a sandbox, and it does not depend on the task. It happens while
    // the previous task's init builds its view. Tasks with the network
    // (fetching) are rare and get theirs on demand.
    let mut ready: Option<ReadyInit> = None;
    let mut cloning_works = true;
    loop {
        if ready.is_none() && cloning_works {
            ready = zygote.clone_init(true).ok();
            cloning_works = ready.is_some();
        }
        let (kind, fds) = match receive_request(&control) {
            Ok(Some(request)) => request,
            Ok(None) => exit(0),
            Err(Errno::EINTR) => continue,
            Err(_) => exit(FAILED),
        };
        let Some(socket) = fds.first() else {
            continue;
        };
        let socket = match socket.try_clone() {
            Ok(socket) => UnixStream::from(socket),
            Err(_) => continue,
        };
        // Anything but a request for the network gets its own.
        let isolated = kind != NETWORK;
        let mut ahead = if isolated { ready.take() } else { None };
        // A second try covers an init cloned ahead that died waiting.
        for attempt in 0..2 {
            let init = match ahead.take() {
                Some(init) => Ok(init),
                None => zygote.clone_init(isolated),
            };
            let init = match init {
                Ok(init) => init,
                Err(errno) => {
                    let failure = Failure {
                        unsupported: true,
                        ..fail("create namespaces (clone)", errno)
                    };
                    let _ = write_frame(&mut NoSigPipe(&socket), &failure.reply());
                    break;
                }
            };
            // Said before the init has the socket, so the two never write
            // at the same time; from the hand-over on, only the init talks.
            let forked = Reply::Forked {
                pid: init.pid.as_raw() as u32,
            };
            let _ = write_frame(&mut NoSigPipe(&socket), &forked);
            match init.hand_over(&fds) {
                Ok(()) => break,
                Err(errno) if attempt == 1 => {
                    let failure = fail("hand the task to its init", errno);
                    let _ = write_frame(&mut NoSigPipe(&socket), &failure.reply());
                }
                Err(_) => {}
            }
        }
    }
}

/// What the zygote clones inits with.
struct Zygote {
    /// The caller's uid and gid, mapped to themselves in each sandbox.
    ids: (u32, u32),
    life_read: OwnedFd,
    stack: Vec<u8>,
}

/// An init waiting for its task.
struct ReadyInit {
    pid: Pid,
    /// Where the request's descriptors go (`SOCK_SEQPACKET`).
    channel: OwnedFd,
}

impl Zygote {
    /// Clones an init into new namespaces (with a network namespace of its
    /// own when `isolated`), which waits for a request's descriptors.
    fn clone_init(&mut self, isolated: bool) -> nix::Result<ReadyInit> {
        use nix::sys::socket::{AddressFamily, SockFlag, SockType, socketpair};
        let (channel, init_end) = socketpair(
            AddressFamily::Unix,
            SockType::SeqPacket,
            None,
            SockFlag::SOCK_CLOEXEC,
        )?;
        let mut flags = CloneFlags::CLONE_NEWUSER
            | CloneFlags::CLONE_NEWNS
            | CloneFlags::CLONE_NEWPID
            | CloneFlags::CLONE_NEWUTS
            | CloneFlags::CLONE_NEWIPC;
        if isolated {
            flags |= CloneFlags::CLONE_NEWNET;
        }
        let ids = self.ids;
        let keep = [self.life_read.as_raw_fd(), init_end.as_raw_fd()];
        let init_main = Box::new(move || -> isize {
            // Another init's channel or a request's socket held here
            // would keep it open after its owner closed it.
            close_all_but(&keep);
            // SAFETY: `keep` are open descriptors this process owns from
            // here on (the zygote's copies stay with the zygote).
            let [life_read, channel] = keep.map(|fd| unsafe { OwnedFd::from_raw_fd(fd) });
            init(ids, isolated, life_read, channel)
        });
        // SAFETY: the zygote is single-threaded (a fresh exec that starts
        // no threads), and the stack is a fresh copy in the child, large
        // enough for the init.
        let pid =
            unsafe { nix::sched::clone(init_main, &mut self.stack, flags, Some(libc::SIGCHLD)) }?;
        Ok(ReadyInit { pid, channel })
    }
}

impl ReadyInit {
    /// Gives the init a request's descriptors.
    fn hand_over(self, fds: &[OwnedFd]) -> nix::Result<()> {
        use nix::sys::socket::{ControlMessage, MsgFlags, sendmsg};
        let raw: Vec<RawFd> = fds.iter().map(AsRawFd::as_raw_fd).collect();
        sendmsg::<()>(
            self.channel.as_raw_fd(),
            &[std::io::IoSlice::new(b"R")],
            &[ControlMessage::ScmRights(&raw)],
            MsgFlags::MSG_NOSIGNAL,
            None,
        )?;
        Ok(())
    }
}

/// Closes every descriptor from 3 up except `keep`.
fn close_all_but(keep: &[RawFd]) {
    let mut keep = keep.to_vec();
    keep.sort_unstable();
    let mut first: libc::c_uint = 3;
    let mut ranges = Vec::new();
    for fd in keep.iter().map(|&fd| fd as libc::c_uint) {
        if fd > first {
            ranges.push((first, fd - 1));
        }
        first = fd + 1;
    }
    ranges.push((first, libc::c_uint::MAX));
    for (low, high) in ranges {
        // SAFETY: closes a range of this process's descriptors.
        let rc = unsafe { libc::syscall(libc::SYS_close_range, low, high, 0) };
        if rc < 0 {
            // Kernels before 5.9: one close per possible descriptor.
            // SAFETY: sysconf with a constant name.
            let max = unsafe { libc::sysconf(libc::_SC_OPEN_MAX) }.clamp(1024, 1 << 20);
            for fd in low..=high.min(max as libc::c_uint) {
                // SAFETY: closing a descriptor this process may hold.
                unsafe { libc::close(fd as RawFd) };
            }
        }
    }
}

/// One request: its kind byte and the descriptors it carries, or None at
/// end of file.
fn receive_request(control: &OwnedFd) -> nix::Result<Option<(u8, Vec<OwnedFd>)>> {
    use nix::sys::socket::{ControlMessageOwned, MsgFlags, recvmsg};
    let mut byte = [0u8; 1];
    let mut iov = [std::io::IoSliceMut::new(&mut byte)];
    let mut space = nix::cmsg_space!([RawFd; 3]);
    let message = recvmsg::<()>(
        control.as_raw_fd(),
        &mut iov,
        Some(&mut space),
        MsgFlags::MSG_CMSG_CLOEXEC,
    )?;
    let mut fds = Vec::new();
    for cmsg in message.cmsgs()? {
        if let ControlMessageOwned::ScmRights(raw) = cmsg {
            // SAFETY: SCM_RIGHTS gave us these descriptors.
            fds.extend(
                raw.into_iter()
                    .map(|fd| unsafe { OwnedFd::from_raw_fd(fd) }),
            );
        }
    }
    if message.bytes == 0 && fds.is_empty() {
        return Ok(None);
    }
    Ok(Some((byte[0], fds)))
}

fn read_plan(socket: &mut UnixStream) -> Result<Plan, Failure> {
    let plan: Plan = match read_frame(socket) {
        Ok(Some(plan)) => plan,
        // bitzel gave up before sending it.
        Ok(None) => exit(FAILED),
        Err(_) => {
            return Err(fail(
                "read the plan (are bitzel and bitzel-sandbox from different builds?)",
                Errno::EPROTO,
            ));
        }
    };
    if plan.version != PLAN_VERSION {
        return Err(fail(
            format!(
                "run a plan of bitzel {} with bitzel-sandbox {PLAN_VERSION}",
                plan.version
            ),
            Errno::EPROTO,
        ));
    }
    Ok(plan)
}

/// Maps the caller's ids to themselves in the new user namespace.
fn write_maps((uid, gid): (u32, u32)) -> Result<(), Failure> {
    // A process may map only its own ids into a namespace it created, and
    // a gid map needs setgroups denied first; once inside, even root is
    // such a process towards the parent namespace.
    for (file, text) in [
        ("/proc/self/setgroups", "deny".to_string()),
        ("/proc/self/uid_map", format!("{uid} {uid} 1\n")),
        ("/proc/self/gid_map", format!("{gid} {gid} 1\n")),
    ] {
        std::fs::write(file, text).map_err(|e| Failure {
            unsupported: true,
            ..fail(format!("write {file}"), errno_of(&e))
        })?;
    }
    Ok(())
}

/// The init: pid 1 of the new pid namespace (see the module doc).
fn init(ids: (u32, u32), isolated: bool, life_read: OwnedFd, channel: OwnedFd) -> ! {
    // Before the task is known: everything that does not depend on it. A
    // failure is told to the task's bitzel once there is one.
    let entered = enter_namespaces(ids, isolated, &life_read);
    drop(life_read);
    let fds = match receive_request(&channel) {
        Ok(Some((_, fds))) => fds,
        // The zygote ended (or failed) before handing over a task.
        _ => exit(0),
    };
    drop(channel);
    let Ok([socket, stdout, stderr]) = <[OwnedFd; 3]>::try_from(fds) else {
        exit(FAILED)
    };
    let mut socket = UnixStream::from(socket);
    let started = entered
        .and_then(|()| prepare(&mut socket, stdout, stderr))
        .and_then(|plan| start_task(&plan).map(|task| (plan, task)));
    let task = match started {
        Ok((_plan, task)) => task,
        Err(failure) => {
            let _ = write_frame(&mut NoSigPipe(&socket), &failure.reply());
            exit(FAILED)
        }
    };
    if write_frame(&mut NoSigPipe(&socket), &Reply::Started).is_err() {
        // bitzel is gone: the task must not run on.
        abandon();
    }
    let status = supervise(task, &mut socket);
    let _ = write_frame(&mut NoSigPipe(&socket), &Reply::Exited { status });
    exit(0)
}

/// The parts of an init's set-up that do not depend on its task.
fn enter_namespaces(ids: (u32, u32), isolated: bool, life_read: &OwnedFd) -> Result<(), Failure> {
    nix::sys::prctl::set_pdeathsig(Signal::SIGKILL).step("set the parent-death signal")?;
    // The zygote may have died before the signal was armed; then the
    // pipe only it holds open is closed.
    let mut poll = [PollFd::new(life_read.as_fd(), PollFlags::POLLIN)];
    if nix::poll::poll(&mut poll, PollTimeout::ZERO).step("poll")? > 0 {
        exit(FAILED);
    }
    // Terminal signals (Ctrl-C) go to bitzel, which decides what to kill.
    let _ = nix::unistd::setsid();
    write_maps(ids)?;
    if isolated {
        loopback_up().step("bring up the loopback interface")?;
    }
    Ok(())
}

/// The task's part of the set-up: output, plan, view.
fn prepare(socket: &mut UnixStream, stdout: OwnedFd, stderr: OwnedFd) -> Result<Plan, Failure> {
    nix::unistd::dup2_stdout(&stdout).step("set up the task's stdout")?;
    nix::unistd::dup2_stderr(&stderr).step("set up the task's stderr")?;
    drop((stdout, stderr));
    let plan = read_plan(socket)?;
    build_view(&plan)?;
    nix::unistd::sethostname(&plan.hostname).step("set the hostname")?;
    enter_view(&plan)?;
    Ok(plan)
}

/// Reaps until the task ends, killing everything when bitzel asks (or
/// closes the socket); then kills and reaps what is left. The task's raw
/// wait status.
fn supervise(task: Pid, socket: &mut UnixStream) -> i32 {
    use nix::sys::signalfd::{SfdFlags, SignalFd};
    let mut chld = nix::sys::signal::SigSet::empty();
    chld.add(Signal::SIGCHLD);
    let Ok(signals) = SignalFd::with_flags(&chld, SfdFlags::SFD_CLOEXEC) else {
        abandon()
    };
    let mut watch_socket = true;
    loop {
        // Reap first: the task may have ended before the signalfd existed
        // (SIGCHLD is blocked, so the signal waits for it).
        loop {
            let mut raw = 0;
            // SAFETY: plain waitpid on any child, not blocking.
            let pid = unsafe { libc::waitpid(-1, &mut raw, libc::WNOHANG) };
            if pid == task.as_raw() {
                kill_and_reap_all();
                return raw;
            }
            if pid <= 0 {
                break;
            }
        }
        let mut fds = vec![PollFd::new(signals.as_fd(), PollFlags::POLLIN)];
        if watch_socket {
            fds.push(PollFd::new(socket.as_fd(), PollFlags::POLLIN));
        }
        match nix::poll::poll(&mut fds, PollTimeout::NONE) {
            Ok(_) | Err(Errno::EINTR) => {}
            Err(_) => abandon(),
        }
        let signal_ready = fds[0].any().unwrap_or(true);
        let socket_ready = watch_socket && fds.get(1).and_then(PollFd::any).unwrap_or(false);
        drop(fds);
        if signal_ready {
            let _ = signals.read_signal();
        }
        if socket_ready {
            let mut request = [0u8; 64];
            let n = socket.read(&mut request).unwrap_or(0);
            if n == 0 || request[..n].contains(&KILL) {
                // Every process of the namespace but this one.
                let _ = nix::sys::signal::kill(Pid::from_raw(-1), Signal::SIGKILL);
            }
            if n == 0 {
                watch_socket = false;
            }
        }
    }
}

/// Kills every other process of the namespace and reaps them all, so
/// none is alive when bitzel hears the task ended.
fn kill_and_reap_all() {
    let _ = nix::sys::signal::kill(Pid::from_raw(-1), Signal::SIGKILL);
    loop {
        let mut raw = 0;
        // SAFETY: plain waitpid on any child.
        let pid = unsafe { libc::waitpid(-1, &mut raw, 0) };
        if pid < 0 && Errno::last() != Errno::EINTR {
            break;
        }
    }
}

/// Ends the sandbox without a status for bitzel.
fn abandon() -> ! {
    kill_and_reap_all();
    exit(FAILED)
}

/// Starts the task: its pid, or why it could not start. The init drops
/// its own capabilities first (it needs none from here on), so the task
/// inherits none.
fn start_task(plan: &Plan) -> Result<Pid, Failure> {
    // The zygote ignored SIGCHLD (its inits are reaped by the kernel);
    // this process must see its children end, through a signalfd.
    // SAFETY: SIG_DFL installs no handler.
    let _ = unsafe { nix::sys::signal::signal(Signal::SIGCHLD, SigHandler::SigDfl) };
    let mut chld = nix::sys::signal::SigSet::empty();
    chld.add(Signal::SIGCHLD);
    nix::sys::signal::sigprocmask(nix::sys::signal::SigmaskHow::SIG_BLOCK, Some(&chld), None)
        .step("block SIGCHLD")?;
    match nix::sys::stat::stat(plan.cwd.as_str()) {
        Ok(meta) if meta.st_mode & libc::S_IFMT == libc::S_IFDIR => {}
        Ok(_) => {
            return Err(fail(
                format!("change to the working directory `{}`", plan.cwd),
                Errno::ENOTDIR,
            ));
        }
        Err(errno) => {
            return Err(fail(
                format!("change to the working directory `{}`", plan.cwd),
                errno,
            ));
        }
    }
    let program = find_program(plan)?;
    if nix::unistd::getuid().is_root() {
        drop_capabilities();
    }
    // SAFETY: prctl with integer arguments.
    unsafe {
        libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    }
    let mut command = std::process::Command::new(&program);
    command
        .arg0(&plan.argv[0])
        .args(&plan.argv[1..])
        .env_clear()
        .envs(plan.env.iter().filter_map(|pair| pair.split_once('=')))
        .current_dir(&plan.cwd)
        .stdin(std::process::Stdio::null());
    // With an absolute program and no pre_exec, std starts it with
    // posix_spawn: a vfork-style clone, no page tables copied. The child's
    // signal mask is emptied and SIGPIPE reset to its default.
    let child = command
        .spawn()
        .map_err(|e| fail(format!("run `{}`", plan.argv[0]), errno_of(&e)))?;
    Ok(Pid::from_raw(child.id() as i32))
}

/// `argv[0]` as `execvp` would find it in the task's `PATH`: the first
/// executable regular file.
fn find_program(plan: &Plan) -> Result<String, Failure> {
    let program = &plan.argv[0];
    let not_found = |errno| fail(format!("run `{program}`"), errno);
    if program.contains('/') {
        return Ok(program.clone());
    }
    let mut result = Errno::ENOENT;
    for dir in &plan.search_path {
        let path = format!("{}/{program}", dir.trim_end_matches('/'));
        match nix::sys::stat::stat(path.as_str()) {
            Ok(meta) if meta.st_mode & libc::S_IFMT == libc::S_IFREG => {
                match nix::unistd::access(path.as_str(), nix::unistd::AccessFlags::X_OK) {
                    Ok(()) => return Ok(path),
                    Err(_) => result = Errno::EACCES,
                }
            }
            _ => {}
        }
    }
    Err(not_found(result))
}

fn build_view(plan: &Plan) -> Result<(), Failure> {
    // Nothing mounted here may propagate back to the host.
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None::<&str>,
    )
    .step("make the mounts private")?;
    mount(
        Some("tmpfs"),
        plan.root.as_str(),
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
        Some("mode=0755"),
    )
    .step(&format!("mount the view's root tmpfs on `{}`", plan.root))?;
    for (idx, op) in plan.ops.iter().enumerate() {
        run_op(&plan.root, op, plan.legacy_remount).map_err(|errno| Failure {
            op: Some(idx),
            ..fail(op.describe(), errno)
        })?;
    }
    Ok(())
}

/// Runs one op of the plan, its view paths under `root`.
fn run_op(root: &str, op: &Op, legacy_remount: bool) -> nix::Result<()> {
    use nix::sys::stat::Mode;
    let in_view = |path: &str| {
        if path == "/" {
            root.to_string()
        } else {
            format!("{root}{path}")
        }
    };
    match op {
        Op::Dir { path } => {
            match nix::unistd::mkdir(in_view(path).as_str(), Mode::from_bits_truncate(0o755)) {
                Ok(()) | Err(Errno::EEXIST) => Ok(()),
                Err(e) => Err(e),
            }
        }
        Op::File { path } => {
            let fd = nix::fcntl::open(
                in_view(path).as_str(),
                OFlag::O_CREAT | OFlag::O_WRONLY | OFlag::O_CLOEXEC | OFlag::O_NOFOLLOW,
                Mode::from_bits_truncate(0o644),
            )?;
            drop(fd);
            Ok(())
        }
        Op::Symlink { path, target } => nix::unistd::symlinkat(
            target.as_str(),
            nix::fcntl::AT_FDCWD,
            in_view(path).as_str(),
        ),
        Op::Bind { source, target } => mount(
            Some(source.as_str()),
            in_view(target).as_str(),
            None::<&str>,
            MsFlags::MS_BIND | MsFlags::MS_REC,
            None::<&str>,
        ),
        Op::Tmpfs { target } => mount(
            Some("tmpfs"),
            in_view(target).as_str(),
            Some("tmpfs"),
            MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
            Some("mode=1777"),
        ),
        Op::Proc { target } => mount(
            Some("proc"),
            in_view(target).as_str(),
            Some("proc"),
            MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
            None::<&str>,
        ),
        Op::ReadOnly {
            target,
            recursive,
            covers,
        } => {
            if !legacy_remount {
                match set_read_only(&in_view(target), *recursive) {
                    Err(Errno::ENOSYS) => {}
                    other => return other,
                }
            }
            // Kernels before 5.12: one remount per mount, keeping the
            // flags the kernel locked when the mount came from a more
            // privileged namespace.
            remount_read_only(&in_view(target))?;
            for covered in covers {
                if covered != target {
                    remount_read_only(&in_view(covered))?;
                }
            }
            Ok(())
        }
    }
}

/// `mount_setattr(MOUNT_ATTR_RDONLY)`, recursively when asked: one call
/// for a whole tree of mounts.
fn set_read_only(path: &str, recursive: bool) -> nix::Result<()> {
    #[repr(C)]
    struct MountAttr {
        attr_set: u64,
        attr_clr: u64,
        propagation: u64,
        userns_fd: u64,
    }
    const MOUNT_ATTR_RDONLY: u64 = 0x1;
    const MOUNT_ATTR_NOSUID: u64 = 0x2;
    const AT_RECURSIVE: libc::c_uint = 0x8000;
    let attr = MountAttr {
        attr_set: MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID,
        attr_clr: 0,
        propagation: 0,
        userns_fd: 0,
    };
    let path = CString::new(path).map_err(|_| Errno::EINVAL)?;
    let flags = if recursive { AT_RECURSIVE } else { 0 };
    // SAFETY: a valid NUL-terminated path and a mount_attr of the size
    // given.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            libc::AT_FDCWD,
            path.as_ptr(),
            flags,
            &attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    Errno::result(rc).map(drop)
}

fn remount_read_only(path: &str) -> nix::Result<()> {
    use nix::sys::statvfs::FsFlags;
    let current = nix::sys::statvfs::statvfs(path)?.flags();
    let mut flags = MsFlags::MS_REMOUNT | MsFlags::MS_BIND | MsFlags::MS_RDONLY;
    for (have, keep) in [
        (FsFlags::ST_NOSUID, MsFlags::MS_NOSUID),
        (FsFlags::ST_NODEV, MsFlags::MS_NODEV),
        (FsFlags::ST_NOEXEC, MsFlags::MS_NOEXEC),
        (FsFlags::ST_NOATIME, MsFlags::MS_NOATIME),
        (FsFlags::ST_NODIRATIME, MsFlags::MS_NODIRATIME),
        (FsFlags::ST_RELATIME, MsFlags::MS_RELATIME),
    ] {
        if current.contains(have) {
            flags |= keep;
        }
    }
    mount(None::<&str>, path, None::<&str>, flags, None::<&str>)
}

/// Makes the view the root, for good: see the module doc.
fn enter_view(plan: &Plan) -> Result<(), Failure> {
    std::fs::write("/proc/sys/user/max_user_namespaces", "0")
        .step("forbid nested user namespaces")?;
    nix::unistd::chroot(plan.root.as_str()).step("enter the view (chroot)")?;
    nix::unistd::chdir("/").step("enter the view")?;
    Ok(())
}

/// `ip link set lo up`, with the ioctls the kernel has always had.
fn loopback_up() -> nix::Result<()> {
    // SAFETY: a plain datagram socket, owned right away.
    let socket = unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0);
        OwnedFd::from_raw_fd(Errno::result(fd)?)
    };
    // SAFETY: ifreq is plain data; all zeroes is a valid value.
    let mut request: libc::ifreq = unsafe { std::mem::zeroed() };
    for (slot, byte) in request.ifr_name.iter_mut().zip(b"lo\0") {
        *slot = *byte as libc::c_char;
    }
    // SAFETY: SIOCGIFFLAGS and SIOCSIFFLAGS read and write an ifreq.
    unsafe {
        Errno::result(libc::ioctl(
            socket.as_raw_fd(),
            libc::SIOCGIFFLAGS,
            &mut request,
        ))?;
        request.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short;
        Errno::result(libc::ioctl(
            socket.as_raw_fd(),
            libc::SIOCSIFFLAGS,
            &request,
        ))?;
    }
    Ok(())
}

/// Empties the bounding, inheritable and ambient sets: a uid-0 task then
/// gets no capability from `execve` (its permitted set is the file's,
/// all, masked by the empty bounding set, plus inheritable and ambient)
/// and cannot remount its inputs writable.
fn drop_capabilities() {
    for cap in 0..64 {
        // SAFETY: prctl with integer arguments; EINVAL past the last cap.
        if unsafe { libc::prctl(libc::PR_CAPBSET_DROP, cap, 0, 0, 0) } < 0
            && Errno::last() == Errno::EINVAL
        {
            break;
        }
    }
    // SAFETY: prctl with integer arguments.
    unsafe {
        libc::prctl(
            libc::PR_CAP_AMBIENT,
            libc::PR_CAP_AMBIENT_CLEAR_ALL,
            0,
            0,
            0,
        );
    }
    #[repr(C)]
    struct CapHeader {
        version: u32,
        pid: libc::c_int,
    }
    #[repr(C)]
    #[derive(Clone, Copy, Default)]
    struct CapData {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    const CAPABILITY_VERSION_3: u32 = 0x2008_0522;
    let mut header = CapHeader {
        version: CAPABILITY_VERSION_3,
        pid: 0,
    };
    let mut data = [CapData::default(); 2];
    // SAFETY: capget and capset with a version-3 header and two data
    // words, as the ABI defines.
    unsafe {
        if libc::syscall(libc::SYS_capget, &mut header, data.as_mut_ptr()) == 0 {
            for word in &mut data {
                word.inheritable = 0;
            }
            libc::syscall(libc::SYS_capset, &header, data.as_ptr());
        }
    }
}

fn errno_of(error: &std::io::Error) -> Errno {
    Errno::from_raw(error.raw_os_error().unwrap_or(libc::EIO))
}

/// `_exit`: no atexit handlers, no flushing of buffers a forked copy
/// shares with its parent.
fn exit(code: i32) -> ! {
    // SAFETY: _exit is always safe to call.
    unsafe { libc::_exit(code) }
}
