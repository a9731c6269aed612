// Everything a plugin author needs: #include <edri/edri.hpp>.
#pragma once

#include <edri/abi.h>
#include <edri/byte_string.hpp>
#include <edri/config.hpp>
#include <edri/context.hpp>
#include <edri/draft.hpp>
#include <edri/event.hpp>
#include <edri/http_answer.hpp>
#include <edri/manager.hpp>
#include <edri/plugin.hpp>
