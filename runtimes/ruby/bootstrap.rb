# Quiver's built-in runtime for ruby3.x functions.
#
# A stdlib-only client of the Lambda Runtime API (2018-06-01). The platform starts it as
#
#   <ruby> /var/runtime/bootstrap.rb
#
# with cwd = LAMBDA_TASK_ROOT and `_HANDLER` set. Handlers are Lambda's two forms:
#
#   file.method              a top-level method of LAMBDA_TASK_ROOT/file.rb
#   file.Module::Class.method  a method of that constant (a class or module method)
#
# `file` may name a subdirectory (`lib/app.handler`). The method is called with the
# `event:` and `context:` keywords. What functions observe follows Lambda's Ruby runtime:
#   * an error the handler raises answers {errorMessage, errorType: "Function<Class>",
#     stackTrace: [backtrace lines]}; one raised while the file loads (LoadError,
#     SyntaxError, anything at the top level) is an init error, "Init<Class>", and the
#     environment is discarded;
#   * the result is written with JSON.generate (a String result becomes a JSON string);
#   * the event is JSON.parse of the payload (keys are strings);
#   * $stdout and $stderr are unbuffered, so `puts` lands in the log as it happens.
# Deliberate differences: no X-Ray error cause is sent, and the handler's method is
# looked up when the file has loaded (a missing one is an init error, so the
# environment is not kept warm answering the same error to every request).

require 'json'
require 'socket'

$stdout.sync = true
$stderr.sync = true

module QuiverRuntime
  API_PREFIX = '/2018-06-01/runtime'.freeze

  # A fault of the runtime's own (unmarshal, marshal, handler name): its errorType is
  # the Lambda `Runtime.*` name, not the class of a user's exception.
  class Fault < StandardError
    attr_reader :error_type

    def initialize(error_type, message)
      super(message)
      @error_type = error_type
    end
  end

  # A minimal HTTP/1.1 keep-alive client for the one local Runtime API connection
  # (net/http would do, but costs tens of milliseconds to load on every cold start).
  # Reconnects once when the connection turns out to be broken.
  class Client
    def initialize(address)
      host, _, port = address.rpartition(':')
      @host = host.delete('[]')
      @port = Integer(port)
      @address = address
      @sock = nil
    end

    def next_invocation
      request('GET', "#{API_PREFIX}/invocation/next", nil, {})
    end

    def post_response(request_id, body)
      post("#{API_PREFIX}/invocation/#{request_id}/response", body,
           'Content-Type' => 'application/json')
    end

    def post_error(request_id, err)
      post("#{API_PREFIX}/invocation/#{request_id}/error", JSON.generate(err),
           'Content-Type' => 'application/json',
           'Lambda-Runtime-Function-Error-Type' => err['errorType'])
    end

    def post_init_error(err)
      post("#{API_PREFIX}/init/error", JSON.generate(err),
           'Content-Type' => 'application/json',
           'Lambda-Runtime-Function-Error-Type' => err['errorType'])
    end

    private

    def post(path, body, headers)
      status, _, data = request('POST', path, body.b, headers)
      warn "quiver runtime: POST #{path} answered #{status}: #{data}" unless status == 202
      status
    end

    def request(method, path, body, headers)
      exchange(method, path, body, headers)
    rescue IOError, SystemCallError, EOFError
      close
      exchange(method, path, body, headers)
    end

    def connect
      @sock = TCPSocket.new(@host, @port)
      # Nagle + delayed ACK would add ~40 ms to every small request.
      @sock.setsockopt(Socket::IPPROTO_TCP, Socket::TCP_NODELAY, 1)
    end

    def close
      @sock&.close
    rescue IOError, SystemCallError
      nil
    ensure
      @sock = nil
    end

    def exchange(method, path, body, headers)
      connect if @sock.nil?
      head = +"#{method} #{path} HTTP/1.1\r\nHost: #{@address}\r\n"
      headers.each { |k, v| head << "#{k}: #{v.to_s.b}\r\n" }
      head << "Content-Length: #{body.bytesize}\r\n" unless body.nil?
      head << "\r\n"
      @sock.write(body.nil? ? head : head.b + body)
      line = @sock.gets("\r\n") or raise EOFError, 'Runtime API closed the connection'
      status = line.split(' ', 3)[1].to_i
      hdrs = {}
      loop do
        l = @sock.gets("\r\n") or raise EOFError, 'Runtime API closed the connection'
        break if l == "\r\n"

        k, v = l.split(':', 2)
        hdrs[k.strip.downcase] = v.to_s.strip
      end
      data = read_body(hdrs)
      close if hdrs['connection'].to_s.casecmp?('close')
      [status, hdrs, data]
    end

    def read_body(hdrs)
      if hdrs.key?('content-length')
        n = hdrs['content-length'].to_i
        n.zero? ? +'' : (@sock.read(n) || '')
      elsif hdrs['transfer-encoding'].to_s.casecmp?('chunked')
        data = +''
        loop do
          size = @sock.gets("\r\n").to_s.split(';', 2)[0].to_i(16)
          if size.zero?
            loop { break if ["\r\n", nil].include?(@sock.gets("\r\n")) }
            break
          end
          data << @sock.read(size)
          @sock.gets("\r\n")
        end
        data
      else
        data = @sock.read
        close
        data
      end
    end
  end

  # The `context:` a handler receives: Lambda's Ruby context, with the same readers.
  class LambdaContext
    attr_reader :aws_request_id, :invoked_function_arn, :log_group_name, :log_stream_name,
                :function_name, :memory_limit_in_mb, :function_version, :identity,
                :client_context, :deadline_ms

    def initialize(headers)
      @aws_request_id = headers['lambda-runtime-aws-request-id']
      @invoked_function_arn = headers['lambda-runtime-invoked-function-arn']
      @log_group_name = ENV['AWS_LAMBDA_LOG_GROUP_NAME']
      @log_stream_name = ENV['AWS_LAMBDA_LOG_STREAM_NAME']
      @function_name = ENV['AWS_LAMBDA_FUNCTION_NAME']
      @memory_limit_in_mb = ENV['AWS_LAMBDA_FUNCTION_MEMORY_SIZE']
      @function_version = ENV['AWS_LAMBDA_FUNCTION_VERSION']
      @deadline_ms = headers['lambda-runtime-deadline-ms'].to_i
      @identity = parse_header(headers['lambda-runtime-cognito-identity'], 'Cognito Identity')
      @client_context = parse_header(headers['lambda-runtime-client-context'], 'Client Context')
    end

    def get_remaining_time_in_millis
      left = @deadline_ms - (Time.now.to_f * 1000).to_i
      left.positive? ? left : 0
    end

    private

    def parse_header(value, name)
      return nil if value.nil? || value.empty?

      JSON.parse(value)
    rescue JSON::ParserError => e
      raise Fault.new('Runtime.LambdaContextUnmarshalError', "Unable to parse #{name} JSON: #{e.message}")
    end
  end

  module_function

  def error_of(exc, classification)
    type = exc.is_a?(Fault) ? exc.error_type : "#{classification}<#{exc.class}>"
    # Frames of this file are the runtime's, not the function's.
    trace = (exc.backtrace || []).reject { |l| l.start_with?("#{__FILE__}:") }
    { 'errorMessage' => exc.message.to_s, 'errorType' => type, 'stackTrace' => trace }
  end

  def log_error(err)
    lines = ["[ERROR] #{err['errorType']}: #{err['errorMessage']}"]
    lines.concat(err['stackTrace'].map { |l| "\tfrom #{l}" })
    # One log record: the lines joined with \r, as Lambda's runtimes do.
    $stdout.write(lines.join("\r") + "\n")
  end

  # `file.method` or `file.Const::Path.method` → [file, receiver, method name].
  def load_handler(handler)
    file, rest = handler.to_s.split('.', 2)
    if file.nil? || file.empty? || rest.nil? || rest.empty?
      raise Fault.new('Runtime.MalformedHandlerName',
                      "Bad handler '#{handler}': expected file.method or file.Module::Class.method")
    end
    const_path, _, name = rest.rpartition('.')
    task_root = ENV['LAMBDA_TASK_ROOT'] || Dir.pwd
    path = File.join(task_root, "#{file}.rb")
    unless File.file?(path)
      raise LoadError, "cannot load such file -- #{File.join(task_root, file)}"
    end

    require path
    receiver = const_path.empty? ? TOPLEVEL_BINDING.receiver : Object.const_get(const_path)
    unless receiver.respond_to?(name, true)
      raise Fault.new('Runtime.HandlerNotFound',
                      "Handler '#{name}' missing on #{const_path.empty? ? "file '#{file}'" : const_path}")
    end
    [receiver, name]
  end

  def handle(client, receiver, name, headers, body)
    request_id = headers['lambda-runtime-aws-request-id']
    trace_id = headers['lambda-runtime-trace-id']
    trace_id ? ENV['_X_AMZN_TRACE_ID'] = trace_id : ENV.delete('_X_AMZN_TRACE_ID')
    out = nil
    begin
      context = LambdaContext.new(headers)
      event = begin
        body.empty? ? nil : JSON.parse(body, quirks_mode: true)
      rescue JSON::ParserError => e
        raise Fault.new('Runtime.UnmarshalError', "Unable to unmarshal input: #{e.message}")
      end
      result = receiver.send(name, event: event, context: context)
      out = begin
        JSON.generate(result, quirks_mode: true)
      rescue StandardError => e
        raise Fault.new('Runtime.MarshalError', "Unable to marshal response: #{e.message}")
      end
    rescue StandardError, ScriptError, NotImplementedError => e
      err = error_of(e, 'Function')
      log_error(err)
      client.post_error(request_id, err)
      return
    end
    client.post_response(request_id, out)
  end

  def main
    client = Client.new(ENV.fetch('AWS_LAMBDA_RUNTIME_API'))
    begin
      receiver, name = load_handler(ENV['_HANDLER'])
    rescue StandardError, ScriptError => e
      err = error_of(e, 'Init')
      log_error(err)
      client.post_init_error(err)
      exit(1)
    end
    loop do
      status, headers, body = client.next_invocation
      unless status == 200
        warn "quiver runtime: /next answered #{status}; exiting"
        exit(1)
      end
      handle(client, receiver, name, headers, body.force_encoding(Encoding::UTF_8))
    end
  end
end

QuiverRuntime.main if $PROGRAM_NAME == __FILE__
