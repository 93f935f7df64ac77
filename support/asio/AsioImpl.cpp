// AsioImpl.cpp - the one translation unit that compiles Boost.Asio, Asio SSL and Boost.Beast.
//
// Every target that uses Asio or Beast links `tether_asio`, which defines BOOST_ASIO_SEPARATE_COMPILATION
// and BOOST_BEAST_SEPARATE_COMPILATION publicly: their sources then include only declarations, and the
// heavy implementation is compiled here, once, instead of in every file (2 cores make that matter).
#include <boost/asio/impl/src.hpp>
#include <boost/asio/ssl/impl/src.hpp>
#include <boost/beast/src.hpp>
