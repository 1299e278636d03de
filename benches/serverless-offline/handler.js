exports.ok = async () => ({ statusCode: 200, body: "ok" });
