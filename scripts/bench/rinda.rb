#!/usr/bin/env ruby
# frozen_string_literal: true
#
# rinda.rb - peer benchmark: Ruby's Rinda tuple space (served by DRb), to be
# measured side by side with tsd.
#
# Rinda and DRb come with Ruby itself.  On Debian bookworm (ruby 3.1) they
# are default gems shipped in the libruby3.1 package (installed together with
# `ruby`): /usr/lib/ruby/3.1.0/rinda/tuplespace.rb, rinda-0.1.1.  No other
# package is needed.  (In Ruby 3.4 and later, drb and rinda are bundled gems
# instead; if `require 'rinda/tuplespace'` fails there, `gem install drb rinda`.)
#
# Usage (results on stdout as `key value` lines; diagnostics on stderr):
#   ruby rinda.rb server URI                 serve a Rinda::TupleSpace at URI;
#                                            prints `ready 1`, runs until
#                                            SIGTERM/SIGINT
#   ruby rinda.rb pairs URI CLIENTS SECONDS  CLIENTS forked clients, each doing
#                                            write([key, i]); take([key, nil])
#                                            for SECONDS seconds; prints
#                                            `pairs_per_sec N`, `clients C`
#   ruby rinda.rb load URI COUNT             writes COUNT tuples
#                                            ['key', i, 'payload-i']; prints
#                                            `load_seconds X`, then times 1000
#                                            random takes ['key', i, nil]
#                                            (each written back); prints
#                                            `take_us X` (median)
#
# URI is drbunix:/path/to/socket or druby://HOST:PORT with a loopback HOST
# (127.x.x.x, ::1 or localhost).  Client processes run their own DRb service
# on druby://127.0.0.1:0 (loopback, ephemeral port).

require 'drb/drb'
require 'drb/unix'
require 'rinda/tuplespace'
require 'socket'

TAKE_TIMEOUT = 30     # seconds; no take may block longer than this
TAKE_SAMPLES = 1000   # takes timed by `load`
GRACE = 30            # seconds the pairs parent waits beyond SECONDS
CLIENT_URI = 'druby://127.0.0.1:0'

def die(msg, code = 1)
  warn "rinda.rb: #{msg}"
  exit code
end

def usage
  warn <<~USAGE
    usage: ruby rinda.rb server URI
           ruby rinda.rb pairs URI CLIENTS SECONDS
           ruby rinda.rb load URI COUNT
  USAGE
  exit 2
end

def say(key, value)
  $stdout.puts "#{key} #{value}"
  $stdout.flush
end

def mono
  Process.clock_gettime(Process::CLOCK_MONOTONIC)
end

def pos_int(s, what)
  Integer(s, 10).tap { |n| die("#{what} must be > 0", 2) unless n.positive? }
rescue ArgumentError, TypeError
  die("#{what} must be an integer: #{s.inspect}", 2)
end

def pos_float(s, what)
  Float(s).tap { |x| die("#{what} must be > 0", 2) unless x.positive? && x.finite? }
rescue ArgumentError, TypeError
  die("#{what} must be a number: #{s.inspect}", 2)
end

# Returns [:unix, path] or [:tcp, host, port]; refuses anything not local.
def parse_uri(uri)
  case uri
  when /\Adrbunix:(.+)\z/
    [:unix, Regexp.last_match(1)]
  when %r{\Adruby://(?:\[([^\]]+)\]|([^:/\[\]]+)):(\d+)\z}
    host = Regexp.last_match(1) || Regexp.last_match(2)
    port = Regexp.last_match(3).to_i
    loop_ok = host == 'localhost' || host == '::1' ||
              host.match?(/\A127\.\d{1,3}\.\d{1,3}\.\d{1,3}\z/)
    die("refusing non-loopback host #{host.inspect}", 2) unless loop_ok
    die('druby port must be 1..65535', 2) unless (1..65_535).cover?(port)
    [:tcp, host, port]
  else
    die("URI must be drbunix:PATH or druby://LOOPBACK:PORT, got #{uri.inspect}", 2)
  end
end

# One plain connect to the listening socket: proves it accepts connections.
def probe(kind)
  s = kind[0] == :unix ? UNIXSocket.new(kind[1]) : TCPSocket.new(kind[1], kind[2])
  s.close
  true
rescue SystemCallError, SocketError
  false
end

# ---------------------------------------------------------------- server

def cmd_server(uri)
  kind = parse_uri(uri)
  if kind[0] == :unix && File.exist?(kind[1])
    # A socket nobody listens on is a leftover of a killed server: reuse the
    # name.  Anything else at that path is left alone.
    if File.socket?(kind[1]) && !probe(kind)
      File.unlink(kind[1])
    else
      die("#{kind[1]} exists (another server running, or not a socket)")
    end
  end

  # Self-pipe: the trap handler only writes a byte; the main thread shuts down.
  sig_r, sig_w = IO.pipe
  %w[TERM INT HUP].each do |sig|
    Signal.trap(sig) do
      sig_w.write_nonblock('x')
    rescue IO::WaitWritable, IOError
      nil
    end
  end

  ts = Rinda::TupleSpace.new
  begin
    DRb.start_service(uri, ts, UNIXFileMode: 0o600)
  rescue StandardError => e
    die("cannot serve at #{uri}: #{e.class}: #{e.message}")
  end
  unless probe(kind)
    DRb.stop_service
    die("server at #{uri} does not accept connections")
  end
  say('ready', 1)
  warn "rinda.rb: serving Rinda::TupleSpace at #{uri} (pid #{Process.pid})"

  sig_r.read(1) # blocks until a signal arrives
  warn 'rinda.rb: signal received, stopping'
  DRb.stop_service # closes the listener; a drbunix socket file is unlinked
  exit 0
end

# ---------------------------------------------------------------- clients

def connect(uri)
  DRb.start_service(CLIENT_URI)
  DRbObject.new_with_uri(uri)
end

# Child side of `pairs`. Never returns: leaves with exit!.
def pairs_child(uri, n, seconds, ready_w, go_r, res_w)
  code = 1
  begin
    ts = connect(uri)
    key = "pairs-#{Process.ppid}-#{n}"
    # Warm up: opens the DRb connection and checks the server answers.
    ts.write([key, -1])
    ts.take([key, nil], TAKE_TIMEOUT)
    ready_w.write('r')
    ready_w.close
    go = go_r.read(1) # EOF (nil) if the parent died or gave up
    if go
      pairs = 0
      deadline = mono + seconds
      i = 0
      while mono < deadline
        ts.write([key, i])
        ts.take([key, nil], TAKE_TIMEOUT)
        i += 1
        pairs += 1
      end
      res_w.write("#{n} #{pairs}\n")
      code = 0
    end
  rescue StandardError => e
    warn "rinda.rb: client #{n}: #{e.class}: #{e.message}"
  ensure
    begin
      DRb.stop_service
    rescue StandardError
      nil
    end
    [ready_w, go_r, res_w].each { |io| io.close unless io.closed? }
  end
  exit!(code)
end

# Reaps clients that have exited; fails fast if one exited with an error
# (a client that exits cleanly has already written its result to the pipe).
def check_children(pids)
  pids.dup.each do |pid|
    _, status = Process.waitpid2(pid, Process::WNOHANG)
    next unless status

    pids.delete(pid)
    next if status.success?

    die("client pid #{pid} failed (#{status}); see messages above")
  end
rescue Errno::ECHILD
  nil
end

def reap(pids, deadline)
  until pids.empty?
    pids.reject! { |pid| Process.waitpid(pid, Process::WNOHANG) rescue true }
    break if pids.empty? || mono > deadline

    sleep 0.01
  end
  pids
end

def kill_and_reap(pids)
  return if pids.empty?

  %w[TERM KILL].each do |sig|
    pids.each { |pid| Process.kill(sig, pid) rescue nil }
    pids = reap(pids, mono + 2)
    return if pids.empty?
  end
  pids.each { |pid| Process.waitpid(pid) rescue nil }
end

def cmd_pairs(uri, clients_s, seconds_s)
  parse_uri(uri)
  clients = pos_int(clients_s, 'CLIENTS')
  seconds = pos_float(seconds_s, 'SECONDS')
  die('CLIENTS must be <= 1024', 2) if clients > 1024

  ready_r, ready_w = IO.pipe
  go_r, go_w = IO.pipe
  res_r, res_w = IO.pipe
  $stdout.flush
  $stderr.flush
  pids = []
  ok = false
  begin
    clients.times do |n|
      pids << fork do
        [ready_r, go_w, res_r].each(&:close)
        pairs_child(uri, n, seconds, ready_w, go_r, res_w)
      end
    end
    [ready_w, go_r, res_w].each(&:close)

    # Wait until every client is connected (or one has died).
    ready = 0
    limit = mono + GRACE
    while ready < clients
      left = limit - mono
      die("only #{ready}/#{clients} clients connected within #{GRACE}s") if left <= 0
      check_children(pids)
      next unless IO.select([ready_r], nil, nil, [left, 0.1].min)

      chunk = ready_r.read_nonblock(4096, exception: false)
      break if chunk.nil? # EOF: every child closed its end
      ready += chunk.size if chunk.is_a?(String)
    end
    die("only #{ready}/#{clients} clients connected") if ready < clients

    t0 = mono
    go_w.write('g' * clients)
    go_w.close

    results = {}
    buf = +''
    limit = t0 + seconds + GRACE
    while results.size < clients
      left = limit - mono
      die("only #{results.size}/#{clients} clients finished in time") if left <= 0
      check_children(pids)
      next unless IO.select([res_r], nil, nil, [left, 0.1].min)

      chunk = res_r.read_nonblock(4096, exception: false)
      break if chunk.nil?
      next unless chunk.is_a?(String)

      buf << chunk
      while (line = buf.slice!(/\A[^\n]*\n/))
        n, count = line.split.map(&:to_i)
        results[n] = count
      end
    end
    wall = mono - t0
    die("only #{results.size}/#{clients} clients reported") if results.size < clients

    pids = reap(pids, mono + GRACE)
    die("#{pids.size} clients did not exit") unless pids.empty?

    total = results.values.sum
    warn format('rinda.rb: pairs total=%d wall=%.3fs per-client=%s',
                total, wall, results.sort.map(&:last).join(','))
    say('pairs_per_sec', (total / wall).floor)
    say('clients', clients)
    ok = true
  ensure
    kill_and_reap(pids) unless pids.empty?
    [ready_r, go_w, res_r].each { |io| io.close unless io.closed? }
  end
  exit(ok ? 0 : 1)
end

def cmd_load(uri, count_s)
  parse_uri(uri)
  count = pos_int(count_s, 'COUNT')
  ts = connect(uri)

  t0 = mono
  count.times { |i| ts.write(['key', i, "payload-#{i}"]) }
  say('load_seconds', format('%.6f', mono - t0))

  rng = Random.new(Integer(ENV.fetch('RINDA_BENCH_SEED', '1')))
  samples = Array.new(TAKE_SAMPLES) do
    i = rng.rand(count)
    t = mono
    tuple = ts.take(['key', i, nil], TAKE_TIMEOUT)
    dt = mono - t
    ts.write(tuple)
    dt * 1e6
  end
  samples.sort!
  mid = samples.size / 2
  median = samples.size.odd? ? samples[mid] : (samples[mid - 1] + samples[mid]) / 2.0
  say('take_us', format('%.1f', median))
  DRb.stop_service
  exit 0
rescue DRb::DRbConnError, Rinda::RequestExpiredError => e
  die("#{e.class}: #{e.message}")
end

case ARGV[0]
when 'server' then ARGV.size == 2 ? cmd_server(ARGV[1]) : usage
when 'pairs'  then ARGV.size == 4 ? cmd_pairs(ARGV[1], ARGV[2], ARGV[3]) : usage
when 'load'   then ARGV.size == 3 ? cmd_load(ARGV[1], ARGV[2]) : usage
else usage
end
