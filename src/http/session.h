// Session: one HTTP connection. Reads a request, dispatches it through the
// router, writes the response, and loops while the client keeps it alive.
#pragma once

#include <boost/asio/ip/tcp.hpp>

namespace errata::http {

class Server;

// Starts serving `socket` on behalf of `server`; the session owns itself.
void StartSession(boost::asio::ip::tcp::socket socket, Server* server);

}  // namespace errata::http
