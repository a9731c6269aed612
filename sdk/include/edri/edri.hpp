// Everything a plugin author needs: #include <edri/edri.hpp>.
#pragma once

#include <edri/abi.h>
#include <edri/config.hpp>
#include <edri/context.hpp>
#include <edri/event.hpp>
#include <edri/manager.hpp>
#include <edri/plugin.hpp>
