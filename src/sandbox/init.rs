//! The `bitzel-sandbox` binary's side of [`super::Sandbox`]: four kinds of
//! process, each single-threaded, so forking is safe.
//!
//! 1. The *zygote*, started once per [`super::Sandbox`]: waits for spawn
//!    requests on its control socket (stdin) and forks a helper for each.
//!    Forking this small process costs a fraction of exec'ing a new one,
//!    which is the point of having it. End of file on the control socket
//!    (bitzel exited, was killed, or dropped the `Sandbox`) ends it.
//! 2. The *helper*, one per task, with `PR_SET_PDEATHSIG` = `SIGKILL`
//!    towards the zygote: reads the plan from the sandbox's socket,
//!    unshares the namespaces, writes the uid and gid maps, forks the
//!    init, relays the init's reports to bitzel, kills the init when
//!    bitzel asks or goes away, and reports the task's exit status.
//! 3. The *init*, pid 1 of the new pid namespace, with the parent-death
//!    signal towards the helper: builds the view from the plan's ops,
//!    pivots into it, forks the task, reaps every process until the task
//!    exits, and reports the task's raw wait status. When it exits the
//!    kernel kills what is left in the namespace before the helper's
//!    `waitpid` returns.
//! 4. The *task*: signal dispositions and mask reset, capabilities dropped
//!    when its uid is 0, `no_new_privs`, stdin `/dev/null`, then `execve`
//!    with exactly the plan's environment.
//!
//! The view is built under `/newroot`, a tmpfs inside a staging tmpfs
//! that becomes the root first, with the host's tree at `/.oldroot` as
//! the source of binds; the last pivot stacks the old root over the view
//! and detaches it, so nothing of the host's tree remains in the task's
//! mount namespace.
//!
//! Invariant: none of these processes writes to the task's stdout or
//! stderr; failures reach bitzel as [`Reply::Failed`].

use std::ffi::CString;
use std::io::Read;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::mount::{MntFlags, MsFlags, mount, umount2};
use nix::poll::{PollFd, PollFlags, PollTimeout};
use nix::sched::CloneFlags;
use nix::sys::signal::{SigHandler, Signal};
use nix::unistd::{ForkResult, Pid};

use super::protocol::{KILL, Reply, read_frame, write_frame};
use super::view::{Op, PLAN_VERSION, Plan};

/// Where the staging tmpfs is mounted before the first pivot. Any
/// directory works: after the pivot the host tree, `/tmp` included, is
/// whole again under `/.oldroot`.
const STAGING: &str = "/tmp";
const OLD_ROOT: &str = "/.oldroot";
const NEW_ROOT: &str = "/newroot";

/// Exit code of a helper, init or task that could not do its job (the
/// reason went to bitzel).
const FAILED: i32 = 127;

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
    // Helpers report through their sockets; the kernel reaps them.
    // SAFETY: SIG_IGN installs no handler.
    let _ = unsafe { nix::sys::signal::signal(Signal::SIGCHLD, SigHandler::SigIgn) };
    let zygote = nix::unistd::getpid();
    loop {
        let fds = match receive_request(&control) {
            Ok(Some(fds)) => fds,
            Ok(None) => exit(0),
            Err(Errno::EINTR) => continue,
            Err(_) => exit(FAILED),
        };
        let Ok([socket, stdout, stderr]) = <[OwnedFd; 3]>::try_from(fds) else {
            continue;
        };
        // SAFETY: the zygote is single-threaded (a fresh exec that starts
        // no threads).
        match unsafe { nix::unistd::fork() } {
            Ok(ForkResult::Child) => {
                drop(control);
                helper(zygote, UnixStream::from(socket), stdout, stderr)
            }
            // A failed fork drops the request's socket: bitzel sees end
            // of file and reports that the helper gave no answer.
            Ok(ForkResult::Parent { .. }) | Err(_) => {}
        }
    }
}

/// One request: the descriptors it carries, or None at end of file.
fn receive_request(control: &OwnedFd) -> nix::Result<Option<Vec<OwnedFd>>> {
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
    Ok(Some(fds))
}

/// The helper of one task (see the module doc).
fn helper(zygote: Pid, mut socket: UnixStream, stdout: OwnedFd, stderr: OwnedFd) -> ! {
    // The zygote ignores SIGCHLD; the helper waits for its init.
    // SAFETY: SIG_DFL installs no handler.
    let _ = unsafe { nix::sys::signal::signal(Signal::SIGCHLD, SigHandler::SigDfl) };
    if nix::sys::prctl::set_pdeathsig(Signal::SIGKILL).is_err() || nix::unistd::getppid() != zygote
    {
        exit(FAILED);
    }
    let _ = nix::unistd::dup2_stdout(&stdout);
    let _ = nix::unistd::dup2_stderr(&stderr);
    drop((stdout, stderr));

    let prepared = read_plan(&mut socket).and_then(|plan| unshare(&plan).map(|()| plan));
    let plan = match prepared {
        Ok(plan) => plan,
        Err(failure) => {
            let _ = write_frame(&mut socket, &failure.reply());
            exit(FAILED)
        }
    };
    let pipes = nix::unistd::pipe2(OFlag::O_CLOEXEC)
        .and_then(|report| Ok((report, nix::unistd::pipe2(OFlag::O_CLOEXEC)?)))
        .step("create a pipe");
    let ((report_read, report_write), (life_read, life_write)) = match pipes {
        Ok(pipes) => pipes,
        Err(failure) => {
            let _ = write_frame(&mut socket, &failure.reply());
            exit(FAILED)
        }
    };
    // SAFETY: single-threaded, as the zygote was.
    let init_pid = match unsafe { nix::unistd::fork() } {
        Ok(ForkResult::Child) => {
            drop((socket, report_read, life_write));
            init(&plan, report_write, life_read)
        }
        Ok(ForkResult::Parent { child }) => child,
        Err(errno) => {
            let _ = write_frame(&mut socket, &fail("fork the init", errno).reply());
            exit(FAILED)
        }
    };
    drop((report_write, life_read));
    let mut reports = std::fs::File::from(report_read);

    match read_frame::<Reply>(&mut reports) {
        Ok(Some(Reply::Started { .. })) => {
            let started = Reply::Started {
                init_pid: init_pid.as_raw() as u32,
            };
            if write_frame(&mut socket, &started).is_err() {
                // bitzel is gone: the task must not run on.
                let _ = nix::sys::signal::kill(init_pid, Signal::SIGKILL);
            }
        }
        Ok(Some(failed)) => {
            wait_for(init_pid);
            let _ = write_frame(&mut socket, &failed);
            exit(FAILED)
        }
        Ok(None) | Err(_) => {
            let status = wait_for(init_pid);
            let why = fail(
                format!("start the sandbox's init (wait status {status:?})"),
                Errno::EIO,
            );
            let _ = write_frame(&mut socket, &why.reply());
            exit(FAILED)
        }
    }

    // Until the init reports the task's end: kill it if bitzel asks or
    // goes away.
    let mut watch_socket = true;
    loop {
        let mut fds = vec![PollFd::new(reports.as_fd(), PollFlags::POLLIN)];
        if watch_socket {
            fds.push(PollFd::new(socket.as_fd(), PollFlags::POLLIN));
        }
        match nix::poll::poll(&mut fds, PollTimeout::NONE) {
            Ok(_) | Err(Errno::EINTR) => {}
            Err(_) => break,
        }
        let report_ready = fds[0].any().unwrap_or(true);
        let socket_ready = watch_socket && fds.get(1).and_then(PollFd::any).unwrap_or(false);
        drop(fds);
        if report_ready {
            break;
        }
        if socket_ready {
            let mut request = [0u8; 64];
            let n = socket.read(&mut request).unwrap_or(0);
            if n == 0 || request[..n].contains(&KILL) {
                let _ = nix::sys::signal::kill(init_pid, Signal::SIGKILL);
            }
            if n == 0 {
                watch_socket = false;
            }
        }
    }
    let reported = match read_frame::<Reply>(&mut reports) {
        Ok(Some(Reply::Exited { status })) => Some(status),
        _ => None,
    };
    // The init's own status stands in when it was killed before
    // reporting (by bitzel's kill).
    let init_status = wait_for(init_pid);
    if let Some(status) = reported.or(init_status) {
        let _ = write_frame(&mut socket, &Reply::Exited { status });
    }
    exit(0)
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

/// Enters the new namespaces (the pid namespace applies to the next
/// child) and maps the caller's ids to themselves.
fn unshare(plan: &Plan) -> Result<(), Failure> {
    // Terminal signals (Ctrl-C) go to bitzel, which decides what to kill.
    let _ = nix::unistd::setsid();
    let uid = nix::unistd::getuid().as_raw();
    let gid = nix::unistd::getgid().as_raw();
    let mut flags = CloneFlags::CLONE_NEWUSER
        | CloneFlags::CLONE_NEWNS
        | CloneFlags::CLONE_NEWPID
        | CloneFlags::CLONE_NEWUTS
        | CloneFlags::CLONE_NEWIPC;
    if !plan.network {
        flags |= CloneFlags::CLONE_NEWNET;
    }
    nix::sched::unshare(flags).map_err(|errno| Failure {
        unsupported: true,
        ..fail("create namespaces (unshare)", errno)
    })?;
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

/// The init: pid 1 of the new pid namespace.
fn init(plan: &Plan, report: OwnedFd, life_read: OwnedFd) -> ! {
    let mut report = std::fs::File::from(report);
    let task = match init_view(plan, life_read).and_then(|()| start_task(plan)) {
        Ok(task) => task,
        Err(failure) => {
            let _ = write_frame(&mut report, &failure.reply());
            exit(FAILED)
        }
    };
    let _ = write_frame(&mut report, &Reply::Started { init_pid: 0 });

    // Reap everything (orphans of the task land here) until the task
    // itself ends; whatever is left dies with this process.
    let status = loop {
        let mut raw = 0;
        // SAFETY: plain waitpid on any child.
        let pid = unsafe { libc::waitpid(-1, &mut raw, 0) };
        if pid == task.as_raw() {
            break raw;
        }
        if pid < 0 && Errno::last() != Errno::EINTR {
            break FAILED << 8;
        }
    };
    let _ = write_frame(&mut report, &Reply::Exited { status });
    exit(0)
}

/// Builds the view and enters it.
fn init_view(plan: &Plan, life_read: OwnedFd) -> Result<(), Failure> {
    nix::sys::prctl::set_pdeathsig(Signal::SIGKILL).step("set the parent-death signal")?;
    // The helper may have died before the signal was armed; then the
    // pipe only it holds open is closed.
    let mut poll = [PollFd::new(life_read.as_fd(), PollFlags::POLLIN)];
    if nix::poll::poll(&mut poll, PollTimeout::ZERO).step("poll")? > 0 {
        exit(FAILED);
    }
    drop(life_read);

    build_view(plan)?;
    if !plan.network {
        loopback_up().step("bring up the loopback interface")?;
    }
    nix::unistd::sethostname(&plan.hostname).step("set the hostname")?;
    enter_view()
}

const REPORT_CHDIR: u8 = 1;
const REPORT_EXEC: u8 = 2;

/// Forks the task and waits until it has exec'd: its pid, or why it
/// could not start.
fn start_task(plan: &Plan) -> Result<Pid, Failure> {
    let (report_read, report_write) = nix::unistd::pipe2(OFlag::O_CLOEXEC).step("create a pipe")?;
    // SAFETY: single-threaded, as the zygote was.
    let task = match unsafe { nix::unistd::fork() }.step("fork the task")? {
        ForkResult::Child => {
            drop(report_read);
            run_task(plan, report_write)
        }
        ForkResult::Parent { child } => child,
    };
    drop(report_write);
    let mut report = Vec::new();
    std::fs::File::from(report_read)
        .read_to_end(&mut report)
        .step("read the task's exec report")?;
    if report.len() >= 5 {
        let errno = i32::from_ne_bytes([report[1], report[2], report[3], report[4]]);
        let step = match report[0] {
            REPORT_CHDIR => format!("change to the working directory `{}`", plan.cwd),
            _ => format!("run `{}`", plan.argv[0]),
        };
        return Err(fail(step, Errno::from_raw(errno)));
    }
    Ok(task)
}

fn build_view(plan: &Plan) -> Result<(), Failure> {
    use nix::sys::stat::Mode;
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
        STAGING,
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
        Some("mode=0755"),
    )
    .step("mount the staging tmpfs on /tmp")?;
    let staged_old = format!("{STAGING}{OLD_ROOT}");
    nix::unistd::mkdir(staged_old.as_str(), Mode::from_bits_truncate(0o755))
        .step("create the old root's mount point")?;
    nix::unistd::pivot_root(STAGING, staged_old.as_str()).step("pivot into the staging tmpfs")?;
    nix::unistd::chdir("/").step("enter the staging root")?;
    nix::unistd::mkdir(NEW_ROOT, Mode::from_bits_truncate(0o755)).step("create the view's root")?;
    mount(
        Some("tmpfs"),
        NEW_ROOT,
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
        Some("mode=0755"),
    )
    .step("mount the view's root tmpfs")?;
    for (idx, op) in plan.ops.iter().enumerate() {
        run_op(op, plan.legacy_remount).map_err(|errno| Failure {
            op: Some(idx),
            ..fail(op.describe(), errno)
        })?;
    }
    Ok(())
}

fn in_view(path: &str) -> String {
    if path == "/" {
        NEW_ROOT.to_string()
    } else {
        format!("{NEW_ROOT}{path}")
    }
}

fn run_op(op: &Op, legacy_remount: bool) -> nix::Result<()> {
    use nix::sys::stat::Mode;
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
            Some(format!("{OLD_ROOT}{source}").as_str()),
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

/// Makes the view the root and detaches the host's tree.
fn enter_view() -> Result<(), Failure> {
    nix::unistd::chdir(NEW_ROOT).step("enter the view")?;
    // pivot_root(".", ".") stacks the old root on top of the new one at
    // "/"; detaching "." then removes it and everything under it.
    nix::unistd::pivot_root(".", ".").step("pivot into the view")?;
    umount2(".", MntFlags::MNT_DETACH).step("detach the host's tree")?;
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

/// The task process: prepare and exec; on failure write `[step, errno]` to
/// `report` for the init.
fn run_task(plan: &Plan, report: OwnedFd) -> ! {
    reset_signals();
    if nix::unistd::getuid().is_root() {
        drop_capabilities();
    }
    // SAFETY: prctl with integer arguments.
    unsafe {
        libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    }
    if let Ok(null) = nix::fcntl::open("/dev/null", OFlag::O_RDONLY, nix::sys::stat::Mode::empty())
    {
        let _ = nix::unistd::dup2_stdin(&null);
    }
    if let Err(errno) = nix::unistd::chdir(plan.cwd.as_str()) {
        report_exec_failure(&report, REPORT_CHDIR, errno);
    }
    let (Some(argv), Some(env)) = (c_strings(&plan.argv), c_strings(&plan.env)) else {
        report_exec_failure(&report, REPORT_EXEC, Errno::EINVAL)
    };
    let program = &plan.argv[0];
    if program.contains('/') {
        let errno = exec(program, &argv, &env);
        report_exec_failure(&report, REPORT_EXEC, errno)
    }
    // As execvp does: the first directory that has it, EACCES remembered
    // over ENOENT.
    let mut result = Errno::ENOENT;
    for dir in &plan.search_path {
        let path = format!("{}/{program}", dir.trim_end_matches('/'));
        match exec(&path, &argv, &env) {
            Errno::ENOENT | Errno::ENOTDIR | Errno::ESTALE | Errno::ENODEV | Errno::ETIMEDOUT => {}
            Errno::EACCES => result = Errno::EACCES,
            other => report_exec_failure(&report, REPORT_EXEC, other),
        }
    }
    report_exec_failure(&report, REPORT_EXEC, result)
}

fn report_exec_failure(report: &OwnedFd, step: u8, errno: Errno) -> ! {
    let mut message = vec![step];
    message.extend_from_slice(&(errno as i32).to_ne_bytes());
    let _ = nix::unistd::write(report, &message);
    exit(FAILED)
}

fn exec(path: &str, argv: &[CString], env: &[CString]) -> Errno {
    let Ok(path) = CString::new(path) else {
        return Errno::EINVAL;
    };
    match nix::unistd::execve(&path, argv, env) {
        Err(errno) => errno,
        Ok(never) => match never {},
    }
}

fn c_strings(words: &[String]) -> Option<Vec<CString>> {
    words
        .iter()
        .map(|w| CString::new(w.as_bytes()).ok())
        .collect()
}

/// Default dispositions and an empty mask: Rust ignores SIGPIPE in its
/// own processes, and ignored signals survive exec.
fn reset_signals() {
    for signal in Signal::iterator() {
        if matches!(signal, Signal::SIGKILL | Signal::SIGSTOP) {
            continue;
        }
        // SAFETY: restoring the default disposition installs no handler.
        let _ = unsafe { nix::sys::signal::signal(signal, SigHandler::SigDfl) };
    }
    let _ = nix::sys::signal::sigprocmask(
        nix::sys::signal::SigmaskHow::SIG_SETMASK,
        Some(&nix::sys::signal::SigSet::empty()),
        None,
    );
}

/// Empties the bounding and ambient sets: a uid-0 task then gets no
/// capability from `execve` and cannot remount its inputs writable.
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
}

/// waitpid for one child: its raw status, or None if it cannot be had.
fn wait_for(child: Pid) -> Option<i32> {
    loop {
        let mut raw = 0;
        // SAFETY: plain waitpid.
        let pid = unsafe { libc::waitpid(child.as_raw(), &mut raw, 0) };
        if pid == child.as_raw() {
            return Some(raw);
        }
        if Errno::last() != Errno::EINTR {
            return None;
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
