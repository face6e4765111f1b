fn main() {
    println!("rtmp-server: not yet implemented");
}
